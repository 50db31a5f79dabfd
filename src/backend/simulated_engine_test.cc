// The simulated processor: latency from its table on a FakeClock, deterministic outputs.
#include <filesystem>
#include <future>

#include <gtest/gtest.h>

#include "backend/engine.h"
#include "common/perf_table.h"

namespace batchwise {
namespace {

class SimulatedEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_path_ = (std::filesystem::temp_directory_path() /
                   ("bw_sim_table_" + std::to_string(::getpid()) + ".json")).string();
    PerfTable t;
    t.processor_id = "a100-test";
    t.processor_kind = "gpu";
    t.simulated = true;
    t.model_name = "resnet50";
    t.cells = {{.batch_size = 1, .throughput = 500, .latency_avg_ms = 2.0},
               {.batch_size = 8, .throughput = 2000, .latency_avg_ms = 4.0,
                .memory_bytes = 1 << 20}};
    ASSERT_TRUE(t.Save(table_path_).ok());
    options_.model_path = table_path_;
    options_.target.device = ExecutionTarget::Device::kSimulated;
    options_.inputs = {{"input", DataType::kFp32, {-1, 4}}};
    options_.outputs = {{"logits", DataType::kFp32, {-1, 3}}, {"ids", DataType::kInt64, {-1, 2}}};
    options_.clock = &clock_;
  }
  void TearDown() override { std::filesystem::remove(table_path_); }

  static Tensor Batch(std::vector<float> values) {
    return Tensor::FromFloats({static_cast<int64_t>(values.size() / 4), 4}, values);
  }

  std::string table_path_;
  FakeClock clock_;
  EngineOptions options_;
};

TEST_F(SimulatedEngineTest, RunWaitsTheTableLatencyOnTheClock) {
  auto e = CreateEngine(EngineKind::kSimulated, options_);
  ASSERT_TRUE(e.ok()) << e.status();
  Tensor in = Batch(std::vector<float>(4 * 4, 1.0f));  // batch 4: 2 + 3/7 * 2 ms
  TimePoint start = clock_.Now();
  auto run = std::async(std::launch::async, [&] { return (*e)->Run({&in, 1}); });
  clock_.BlockUntilWaiters(1);
  clock_.Advance(std::chrono::microseconds(2800));
  EXPECT_EQ(run.wait_for(std::chrono::milliseconds(20)), std::future_status::timeout);
  clock_.Advance(std::chrono::microseconds(100));
  auto out = run.get();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_GE(clock_.Now() - start, std::chrono::microseconds(2857));
}

TEST_F(SimulatedEngineTest, OutputsHaveDeclaredShapesAndDependOnlyOnTheSample) {
  auto e = CreateEngine(EngineKind::kSimulated, options_);
  ASSERT_TRUE(e.ok()) << e.status();
  clock_.Advance(std::chrono::hours(1));  // any deadline computed later is still in the future
  auto run = [&](std::vector<float> v) {
    Tensor in = Batch(v);
    auto r = std::async(std::launch::async, [&] { return (*e)->Run({&in, 1}); });
    clock_.BlockUntilWaiters(1);
    clock_.Advance(std::chrono::seconds(1));
    return r.get();
  };
  auto pair = run({1, 2, 3, 4, 5, 6, 7, 8});
  auto single = run({5, 6, 7, 8});
  ASSERT_TRUE(pair.ok() && single.ok());
  EXPECT_EQ((*pair)[0].shape(), (Shape{2, 3}));
  EXPECT_EQ((*pair)[1].shape(), (Shape{2, 2}));
  EXPECT_EQ((*pair)[1].dtype(), DataType::kInt64);
  auto second = (*pair)[0].as<float>().subspan(3, 3);
  auto alone = (*single)[0].as<float>();
  EXPECT_TRUE(std::equal(second.begin(), second.end(), alone.begin()));
  EXPECT_NE((*pair)[0].as<float>()[0], (*pair)[0].as<float>()[3]);
  for (float v : (*pair)[0].as<float>()) EXPECT_TRUE(v >= -1 && v < 1) << v;
}

TEST_F(SimulatedEngineTest, SaysItIsSimulatedAndReportsTheTableFootprint) {
  auto e = CreateEngine(EngineKind::kSimulated, options_);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE((*e)->simulated());
  EXPECT_NE((*e)->Describe().find("simulated"), std::string::npos);
  EXPECT_EQ((*e)->memory_footprint_bytes(), 1u << 20);
  EXPECT_EQ((*e)->kind(), EngineKind::kSimulated);
}

TEST_F(SimulatedEngineTest, RejectsMissingTablesSpecsAndRows) {
  EngineOptions o = options_;
  o.model_path = table_path_ + ".missing";
  EXPECT_EQ(CreateEngine(EngineKind::kSimulated, o).status().code(), StatusCode::kNotFound);
  o = options_;
  o.outputs.clear();
  EXPECT_EQ(CreateEngine(EngineKind::kSimulated, o).status().code(), StatusCode::kInvalidArgument);
  o = options_;
  o.simulated_instances = 3;
  EXPECT_EQ(CreateEngine(EngineKind::kSimulated, o).status().code(), StatusCode::kNotFound);
}

TEST_F(SimulatedEngineTest, WrongBatchIsInvalidArgumentWithoutWaiting) {
  auto e = CreateEngine(EngineKind::kSimulated, options_);
  ASSERT_TRUE(e.ok());
  Tensor in = Tensor::FromFloats({1, 3}, std::vector<float>{1, 2, 3});
  EXPECT_EQ((*e)->Run({&in, 1}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace batchwise
