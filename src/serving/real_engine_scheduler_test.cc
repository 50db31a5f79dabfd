// The scheduler with the production engine factory on real CPU processors and the generated
// reference models (skipped when tools/gen_models.py has not been run).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "backend/testing/model_repo.h"
#include "common/bytes_tensor.h"
#include "serving/preprocess.h"
#include "serving/scheduler.h"
#include "serving/testing/scheduler_harness.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: the harness

class RealEngineSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mlp = LoadReferenceModel("mlp_forecaster");
    if (!mlp.ok()) GTEST_SKIP() << NoModelsMessage(mlp.status());
    ref_ = *mlp;
    SchedulerHardware hw;
    hw.processors = {CpuProcessor("cpu:0", {0}), CpuProcessor("cpu:1", {1})};
    for (const auto& p : hw.processors) hw.profiles[p.id] = TableWithPerformance(10);
    Scheduler::Options o;
    o.rebalance_period_ms = 0;
    o.batching.controller.policy = BatchPolicy::kQueueDelay;
    o.batching.max_queue_delay_micros = 1000;
    const std::string tables = (std::filesystem::temp_directory_path() / "bw_sched_test").string();
    auto s = Scheduler::Create(o, SystemClock(), std::move(hw), DefaultEngineFactory(tables));
    ASSERT_TRUE(s.ok()) << s.status();
    scheduler_ = std::move(s).value();
  }

  ReferenceModel ref_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(RealEngineSchedulerTest, ServesTheReferenceOutputsFromAPinnedInstance) {
  auto config = LoadModelConfig(ref_.dir);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(scheduler_->LoadModel(*config).ok());
  const auto instances = scheduler_->Instances("mlp_forecaster");
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].processor, "cpu:0");
  EXPECT_FALSE(instances[0].simulated);
  Collector c;
  InferRequest r;
  r.model = "mlp_forecaster";
  r.inputs.push_back({ref_.inputs[0].name, ref_.ref_inputs[0]});
  ASSERT_TRUE(scheduler_->Infer(std::move(r), c.Callback()).ok());
  c.WaitFor(1);
  auto [status, response] = c.results()[0];
  ASSERT_TRUE(status.ok()) << status;
  const auto got = response.outputs.at(0).tensor.as<float>();
  const auto want = ref_.ref_outputs[0].as<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << i;
}

TEST_F(RealEngineSchedulerTest, TwoModelsGetTheirOwnCores) {
  for (const char* name : {"mlp_forecaster", "resnet18"}) {
    auto config = LoadModelConfig(ModelsDir() + "/" + name);
    if (!config.ok()) GTEST_SKIP() << NoModelsMessage(config.status());
    ASSERT_TRUE(scheduler_->LoadModel(*config).ok()) << name;
  }
  EXPECT_EQ(scheduler_->Instances("mlp_forecaster")[0].processor, "cpu:0");
  EXPECT_EQ(scheduler_->Instances("resnet18")[0].processor, "cpu:1");
  EXPECT_NE(scheduler_->Instances("resnet18")[0].engine.find("1 thread"), std::string::npos)
      << scheduler_->Instances("resnet18")[0].engine;
}

// Runs one request to completion; its status and response.
std::pair<Status, InferResponse> RunOne(Scheduler& scheduler, InferRequest r) {
  Collector c;
  Status s = scheduler.Infer(std::move(r), c.Callback());
  if (!s.ok()) return {s, {}};
  c.WaitFor(1);
  return c.results()[0];
}

TEST_F(RealEngineSchedulerTest, Resnet18ClassifiesARawImage) {
  auto config = LoadModelConfig(ModelsDir() + "/resnet18");
  if (!config.ok()) GTEST_SKIP() << NoModelsMessage(config.status());
  if (!config->preprocess)
    GTEST_SKIP() << "models/resnet18 predates \"preprocess\": rerun gen_models";
  ASSERT_TRUE(scheduler_->LoadModel(*config).ok());
  Tensor image = Tensor::Allocate(DataType::kUint8, {1, 300, 400, 3});
  auto pixels = image.mutable_as<uint8_t>();
  for (size_t k = 0; k < pixels.size(); ++k) pixels[k] = static_cast<uint8_t>(k * 7 % 251);
  // The same image pre-processed here and sent as the model's own FP32 tensor.
  auto fp32 = PreprocessImages(*config->preprocess, image);
  ASSERT_TRUE(fp32.ok()) << fp32.status();
  auto request = [](Tensor t) {
    InferRequest r;
    r.model = "resnet18";
    r.inputs.push_back({"input", std::move(t)});
    r.requested_outputs = {"logits", "classification"};
    return r;
  };
  auto [raw_status, raw] = RunOne(*scheduler_, request(image));
  auto [fp32_status, want] = RunOne(*scheduler_, request(*fp32));
  ASSERT_TRUE(raw_status.ok()) << raw_status;
  ASSERT_TRUE(fp32_status.ok()) << fp32_status;
  const auto got = raw.outputs.at(0).tensor.as<float>();
  ASSERT_EQ(raw.outputs[0].tensor.shape(), (Shape{1, 1000}));
  const auto expected = want.outputs.at(0).tensor.as<float>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-5) << i;
  auto labels = BytesElements(raw.outputs.at(1).tensor);
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(labels->size(), 5u);
  const auto best = std::max_element(got.begin(), got.end()) - got.begin();
  EXPECT_TRUE((*labels)[0].ends_with(":" + std::to_string(best))) << (*labels)[0];
}

}  // namespace
}  // namespace batchwise
