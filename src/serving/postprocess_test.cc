#include "serving/postprocess.h"

#include <gtest/gtest.h>

#include "common/bytes_tensor.h"

namespace batchwise {
namespace {

std::vector<std::string> Strings(const Tensor& t) {
  auto views = BytesElements(t);
  EXPECT_TRUE(views.ok()) << views.status();
  return views.ok() ? std::vector<std::string>(views->begin(), views->end())
                    : std::vector<std::string>{};
}

TEST(ClassifyTopKTest, ListsTheBestScoresOfEachRowHighestFirst) {
  const float scores[] = {0.1f, 0.9f, -2.0f, 0.5f,    // row 0
                          3.0f, 3.0f, 1.0f,  4.25f};  // row 1: a tie goes to the lower index
  auto top = ClassifyTopK(Tensor::FromFloats({2, 4}, scores), 3);
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(top->dtype(), DataType::kBytes);
  EXPECT_EQ(top->shape(), (Shape{2, 3}));
  EXPECT_EQ(Strings(*top), (std::vector<std::string>{"0.900000:1", "0.500000:3", "0.100000:0",
                                                     "4.250000:3", "3.000000:0", "3.000000:1"}));
}

TEST(ClassifyTopKTest, RejectsWhatItCannotRank) {
  const float scores[] = {1, 2};
  EXPECT_FALSE(ClassifyTopK(Tensor::FromFloats({1, 2}, scores), 3).ok());
  EXPECT_FALSE(ClassifyTopK(Tensor::FromFloats({1, 2}, scores), 0).ok());
  EXPECT_FALSE(ClassifyTopK(Tensor::FromFloats({2}, scores), 1).ok());
  EXPECT_FALSE(ClassifyTopK(Tensor::Allocate(DataType::kInt32, {1, 2}), 1).ok());
}

// The response of a request that asked for ["classification"] (source hidden) or
// ["logits", "classification"] (source kept).
InferResponse Respond(bool keep_source, size_t position) {
  const ClassificationPostprocess post{.output = "classification", .source = "logits", .top_k = 1};
  InferResponse got;
  auto done = WithClassification(post, position, keep_source, [&](Status s, InferResponse r) {
    EXPECT_TRUE(s.ok()) << s;
    got = std::move(r);
  });
  const float logits[] = {0.25f, 0.75f};
  InferResponse r;
  r.outputs.push_back({"logits", Tensor::FromFloats({1, 2}, logits)});
  done(Status::Ok(), std::move(r));
  return got;
}

TEST(WithClassificationTest, AddsTheOutputWhereAskedAndHidesAnUnaskedSource) {
  InferResponse only = Respond(/*keep_source=*/false, 0);
  ASSERT_EQ(only.outputs.size(), 1u);
  EXPECT_EQ(only.outputs[0].name, "classification");
  EXPECT_EQ(Strings(only.outputs[0].tensor), std::vector<std::string>{"0.750000:1"});
  InferResponse both = Respond(/*keep_source=*/true, 1);
  ASSERT_EQ(both.outputs.size(), 2u);
  EXPECT_EQ(both.outputs[0].name, "logits");
  EXPECT_EQ(both.outputs[1].name, "classification");
}

TEST(WithClassificationTest, PassesErrorsThroughUntouched) {
  Status seen;
  auto done = WithClassification({}, 0, false, [&](Status s, InferResponse) { seen = s; });
  done(Unavailable("queue full"), InferResponse{});
  EXPECT_EQ(seen, Unavailable("queue full"));
}

// Two images, K = 3: image 0 has 3 detections (scores 0.9, 0.2, 0.6), image 1 has 1 (0.8).
InferResponse Detections() {
  InferResponse r;
  const float boxes[] = {10, 20, 30, 40,  1, 1, 2, 2,  50, 60, 70, 80,
                         80, 80, 160, 240,  0, 0, 0, 0,  0, 0, 0, 0};
  const float scores[] = {0.9f, 0.2f, 0.6f, 0.8f, 0, 0};
  const std::vector<int32_t> labels = {3, 1, 2, 5, 0, 0};
  const std::vector<int32_t> count = {3, 1};
  r.outputs.push_back({"boxes", Tensor::FromFloats({2, 3, 4}, boxes)});
  r.outputs.push_back({"scores", Tensor::FromFloats({2, 3}, scores)});
  r.outputs.push_back({"labels", Tensor::CopyOf(DataType::kInt32, {2, 3},
                                                std::as_bytes(std::span(labels)))});
  r.outputs.push_back({"num_detections", Tensor::CopyOf(DataType::kInt32, {2},
                                                        std::as_bytes(std::span(count)))});
  return r;
}

const Tensor& Output(const InferResponse& r, const std::string& name) {
  for (const auto& t : r.outputs) {
    if (t.name == name) return t.tensor;
  }
  ADD_FAILURE() << "no output " << name;
  static Tensor none;
  return none;
}

std::vector<float> Floats(const Tensor& t) { return {t.as<float>().begin(), t.as<float>().end()}; }
std::vector<int32_t> Ints(const Tensor& t) {
  return {t.as<int32_t>().begin(), t.as<int32_t>().end()};
}

TEST(ApplyDetectionTest, DropsScoresBelowTheThresholdKeepingOrderAndPadding) {
  DetectionPostprocess p;
  p.score_threshold = 0.5f;
  p.max_detections = 3;
  InferResponse r = Detections();
  ASSERT_TRUE(ApplyDetection(p, {}, false, r).ok());
  EXPECT_EQ(Ints(Output(r, "num_detections")), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(Floats(Output(r, "scores")), (std::vector<float>{0.9f, 0.6f, 0, 0.8f, 0, 0}));
  EXPECT_EQ(Ints(Output(r, "labels")), (std::vector<int32_t>{3, 2, 0, 5, 0, 0}));
  EXPECT_EQ(Floats(Output(r, "boxes")),
            (std::vector<float>{10, 20, 30, 40, 50, 60, 70, 80, 0, 0, 0, 0,  // unmapped
                                80, 80, 160, 240, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(r.outputs.size(), 4u);  // no label names unless asked
}

TEST(ApplyDetectionTest, MaxDetectionsCapsEachImage) {
  DetectionPostprocess p;
  p.max_detections = 1;
  InferResponse r = Detections();
  ASSERT_TRUE(ApplyDetection(p, {}, false, r).ok());
  EXPECT_EQ(Ints(Output(r, "num_detections")), (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(Floats(Output(r, "scores")), (std::vector<float>{0.9f, 0, 0, 0.8f, 0, 0}));
}

// Image 1 was letterboxed from 200x100 into 320x320 (scale 1.6, 80 rows of padding on top): its
// box (80,80)-(160,240) is (50,0)-(100,100) in the original; image 0 was not scaled.
TEST(ApplyDetectionTest, MapsBoxesBackToEachOriginalImageAndNamesLabels) {
  DetectionPostprocess p;
  p.max_detections = 3;
  p.class_names = {"__background__", "insulator", "damper", "bird_nest"};
  std::vector<ImagePlacement> at(2);
  at[0] = {.width = 320, .height = 320};
  at[1] = {.width = 200, .height = 100, .scale_x = 1.6, .scale_y = 1.6, .left = 0, .top = 80};
  InferResponse r = Detections();
  ASSERT_TRUE(ApplyDetection(p, at, true, r).ok());
  const auto boxes = Floats(Output(r, "boxes"));
  EXPECT_EQ(std::vector<float>(boxes.begin() + 12, boxes.begin() + 16),
            (std::vector<float>{50, 0, 100, 100}));
  EXPECT_EQ(std::vector<float>(boxes.begin(), boxes.begin() + 4),
            (std::vector<float>{10, 20, 30, 40}));
  const Tensor& names = Output(r, "label_names");
  EXPECT_EQ(names.shape(), (Shape{2, 3}));
  EXPECT_EQ(Strings(names),
            (std::vector<std::string>{"bird_nest", "insulator", "damper", "5", "", ""}));
}

TEST(WithDetectionTest, ReturnsOnlyTheOutputsAskedForInThatOrder) {
  DetectionPostprocess p;
  p.max_detections = 3;
  Status got_status = Internal("not called");
  InferResponse got;
  auto done = WithDetection(p, {}, {"label_names", "scores"}, [&](Status s, InferResponse r) {
    got_status = s;
    got = std::move(r);
  });
  done(Status::Ok(), Detections());
  ASSERT_TRUE(got_status.ok()) << got_status;
  ASSERT_EQ(got.outputs.size(), 2u);
  EXPECT_EQ(got.outputs[0].name, "label_names");
  EXPECT_EQ(got.outputs[1].name, "scores");
  EXPECT_EQ(Strings(got.outputs[0].tensor)[0], "3");  // no class names: the label number
}

}  // namespace
}  // namespace batchwise
