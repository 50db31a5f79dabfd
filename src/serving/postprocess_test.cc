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

}  // namespace
}  // namespace batchwise
