// Image models through the scheduler: raw pixels and encoded files are pre-processed into the
// model's FP32 tensor before they are queued, and the classification output is added on request.
// A fake engine answers each sample with its first input value (channel 0 of pixel (0,0)).
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/bytes_tensor.h"
#include "serving/scheduler.h"
#include "serving/testing/scheduler_harness.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: the harness

// "input" FP32 [-1,3,224,224] → "logits" FP32 [-1,10]; pixels pass as raw values (scale 1,
// mean 0, std 1), so the fake engine's answer is the red value of the image.
ModelConfig ImageModel(const std::string& name, bool with_processing = true) {
  ModelConfig c;
  c.name = name;
  c.max_batch_size = 4;
  c.inputs = {{"input", DataType::kFp32, {-1, 3, 224, 224}}};
  c.outputs = {{"logits", DataType::kFp32, {-1, 10}}};
  c.engines = {{EngineKind::kOnnx, "/nonexistent/" + name + "/model.onnx"}};
  if (!with_processing) return c;
  ImagePreprocess p;
  p.input = "input";
  p.height = p.width = 224;
  p.scale = 1;
  c.preprocess = p;
  c.postprocess =
      ClassificationPostprocess{.output = "classification", .source = "logits", .top_k = 2};
  return c;
}

// UINT8 [n,h,w,3] where image i is a flat colour with red 10 * (i + 1).
Tensor FlatImages(int n, int h, int w) {
  Tensor t = Tensor::Allocate(DataType::kUint8, {n, h, w, 3});
  auto v = t.mutable_as<uint8_t>();
  for (size_t k = 0; k < v.size(); ++k) {
    v[k] = k % 3 == 0 ? static_cast<uint8_t>(10 * (k / (h * w * 3) + 1)) : 50;
  }
  return t;
}

std::string Png(uint8_t red) {
  cv::Mat bgr(30, 40, CV_8UC3, cv::Scalar(50, 50, red));
  std::vector<uchar> out;
  EXPECT_TRUE(cv::imencode(".png", bgr, out));
  return std::string(out.begin(), out.end());
}

InferRequest ImageRequest(Tensor input, std::vector<std::string> outputs = {}) {
  InferRequest r;
  r.model = "img";
  r.inputs.push_back({"input", std::move(input)});
  r.requested_outputs = std::move(outputs);
  return r;
}

class ImageServingTest : public ::testing::Test {
 protected:
  ImageServingTest() {
    FakeEngineOptions e;
    e.on_run = [this](std::span<const Tensor> inputs) {
      std::lock_guard<std::mutex> l(mu_);
      seen_.emplace_back(inputs[0].dtype(), inputs[0].shape());
    };
    harness_ = std::make_unique<Harness>(
        std::vector<Processor>{CpuProcessor("cpu:0", {0})},
        std::map<std::string, PerfTable>{{"cpu:0", TableWithPerformance(100)}}, ImmediateOptions(),
        std::move(e));
  }

  // Runs one request and returns its response (failing the test on an error).
  InferResponse Run(InferRequest r) {
    Collector c;
    Status s = harness_->scheduler->Infer(std::move(r), c.Callback());
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return {};
    c.WaitFor(1);
    auto [status, response] = c.results()[0];
    EXPECT_TRUE(status.ok()) << status;
    return response;
  }

  // The dtype and shape of the last batch the engine ran.
  std::pair<DataType, Shape> LastBatch() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_.back();
  }

  std::mutex mu_;
  std::vector<std::pair<DataType, Shape>> seen_;
  std::unique_ptr<Harness> harness_;  // last: its engines report to the members above
};

TEST_F(ImageServingTest, RawPixelsReachTheEngineAsFp32Nchw) {
  ASSERT_TRUE(harness_->scheduler->LoadModel(ImageModel("img")).ok());
  InferResponse r = Run(ImageRequest(FlatImages(2, 50, 70)));
  EXPECT_EQ(LastBatch(), std::make_pair(DataType::kFp32, Shape{2, 3, 224, 224}));
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].name, "logits");
  EXPECT_EQ(r.outputs[0].tensor.as<float>()[0], 10);   // image 0's red
  EXPECT_EQ(r.outputs[0].tensor.as<float>()[10], 20);  // image 1's red
}

TEST_F(ImageServingTest, EncodedFilesReachTheEngineAsFp32Nchw) {
  ASSERT_TRUE(harness_->scheduler->LoadModel(ImageModel("img")).ok());
  InferResponse r = Run(ImageRequest(MakeBytesTensor({3}, {Png(30), Png(60), Png(90)})));
  EXPECT_EQ(LastBatch(), std::make_pair(DataType::kFp32, Shape{3, 3, 224, 224}));
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].tensor.as<float>()[20], 90);  // image 2's red, RGB after decoding
}

TEST_F(ImageServingTest, TheModelsOwnTensorPassesThroughUntouched) {
  ASSERT_TRUE(harness_->scheduler->LoadModel(ImageModel("img")).ok());
  std::vector<float> v(3 * 224 * 224, 0.123f);
  InferResponse r = Run(ImageRequest(Tensor::FromFloats({1, 3, 224, 224}, v)));
  EXPECT_EQ(r.outputs.at(0).tensor.as<float>()[0], 0.123f);  // no scaling applied
}

TEST_F(ImageServingTest, ClassificationIsAddedOnlyWhenAskedFor) {
  ASSERT_TRUE(harness_->scheduler->LoadModel(ImageModel("img")).ok());
  InferResponse only = Run(ImageRequest(FlatImages(1, 8, 8), {"classification"}));
  ASSERT_EQ(only.outputs.size(), 1u);
  EXPECT_EQ(only.outputs[0].name, "classification");
  EXPECT_EQ(only.outputs[0].tensor.shape(), (Shape{1, 2}));
  auto labels = BytesElements(only.outputs[0].tensor);
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ((*labels)[0], "10.000000:0");  // all ten logits equal: the lowest indices first
  EXPECT_EQ((*labels)[1], "10.000000:1");
  InferResponse both = Run(ImageRequest(FlatImages(1, 8, 8), {"classification", "logits"}));
  ASSERT_EQ(both.outputs.size(), 2u);
  EXPECT_EQ(both.outputs[0].name, "classification");
  EXPECT_EQ(both.outputs[1].name, "logits");
}

TEST_F(ImageServingTest, BadImagesAreRejectedBeforeTheyAreQueued) {
  ASSERT_TRUE(harness_->scheduler->LoadModel(ImageModel("img")).ok());
  Collector c;
  auto expect_invalid = [&](InferRequest r, const std::string& says) {
    Status s = harness_->scheduler->Infer(std::move(r), c.Callback());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find(says), std::string::npos) << s;
  };
  expect_invalid(ImageRequest(MakeBytesTensor({2}, {Png(1), "GIF89a..."})),
                 "input 'input': image 1 of 2: not a JPEG or PNG file");
  expect_invalid(ImageRequest(Tensor::Allocate(DataType::kUint8, {1, 8, 8, 1})),
                 "must have 3 channels (RGB), got 1");
  expect_invalid(ImageRequest(FlatImages(5, 8, 8)), "batch 5, above model 'img' max_batch_size 4");
  expect_invalid(ImageRequest(Tensor::Allocate(DataType::kInt32, {1, 3, 224, 224})),
                 "expects FP32, or images as UINT8 or BYTES");
  expect_invalid(ImageRequest(FlatImages(1, 8, 8), {"classification", "classification"}),
                 "requested more than once");
  EXPECT_TRUE(c.results().empty());  // never accepted, so never called back
}

TEST_F(ImageServingTest, AModelWithoutPreprocessRejectsRawImages) {
  ModelConfig plain = ImageModel("img", /*with_processing=*/false);
  ASSERT_TRUE(harness_->scheduler->LoadModel(plain).ok());
  Collector c;
  Status s = harness_->scheduler->Infer(ImageRequest(FlatImages(1, 224, 224)), c.Callback());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "input 'input' has datatype UINT8, model 'img' expects FP32 (raw images need a "
            "\"preprocess\" section in its config)");
  s = harness_->scheduler->Infer(
      ImageRequest(Tensor::Allocate(DataType::kFp32, {1, 3, 224, 224}), {"classification"}),
      c.Callback());
  EXPECT_EQ(s, InvalidArgument("model 'img' has no output 'classification'"));
}

}  // namespace
}  // namespace batchwise
