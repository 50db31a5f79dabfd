#include "profile/profiler.h"

#include <atomic>

#include <gtest/gtest.h>

namespace batchwise {
namespace {

using std::chrono::milliseconds;

// An engine whose batch of b "takes" base + per_sample*b on a FakeClock: Run advances the clock
// itself, so a single instance is measured exactly, without sleeping.
class ClockAdvancingEngine final : public Engine {
 public:
  ClockAdvancingEngine(FakeClock* clock, Duration base, Duration per_sample, int fail_after = -1)
      : clock_(clock), base_(base), per_sample_(per_sample), fail_after_(fail_after) {
    inputs_ = {{"x", DataType::kFp32, {-1, 4}}};
    outputs_ = {{"y", DataType::kFp32, {-1, 1}}};
  }
  EngineKind kind() const override { return EngineKind::kSimulated; }
  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  Result<std::vector<Tensor>> Run(std::span<const Tensor> in) override {
    if (fail_after_ >= 0 && runs_++ >= fail_after_) return Internal("engine exploded");
    int64_t b = in[0].shape()[0];
    clock_->Advance(base_ + per_sample_ * b);
    return std::vector<Tensor>{Tensor::Allocate(DataType::kFp32, {b, 1})};
  }
  size_t memory_footprint_bytes() const override { return 1000; }
  bool simulated() const override { return true; }
  std::string Describe() const override { return "clock-advancing test engine (simulated)"; }

 private:
  FakeClock* clock_;
  Duration base_, per_sample_;
  int fail_after_;
  int runs_ = 0;
  std::vector<TensorSpec> inputs_, outputs_;
};

ProfileOptions Options(std::vector<int> batches, std::vector<int> instances) {
  ProfileOptions o;
  o.batch_sizes = std::move(batches);
  o.instance_counts = std::move(instances);
  o.warmup = milliseconds(100);
  o.window = milliseconds(1000);
  o.max_cell_duration = std::chrono::seconds(20);
  return o;
}

TEST(ProfilerTest, MeasuresThroughputAndLatencyOfEachBatchSize) {
  FakeClock clock;
  Profiler profiler(&clock, Options({1, 4, 16}, {1}));
  SweepEngineFactory factory = [&](int, int) -> Result<std::unique_ptr<Engine>> {
    return std::make_unique<ClockAdvancingEngine>(&clock, milliseconds(10), milliseconds(2));
  };
  std::vector<ProfileProgress> seen;
  PerfTable table;
  ASSERT_TRUE(profiler.Run(factory, [] { return 0.75; },
                           [&](const ProfileProgress& p) { seen.push_back(p); }, table)
                  .ok());
  ASSERT_EQ(table.cells.size(), 3u);
  for (const PerfCell& c : table.cells) {
    double latency_ms = 10 + 2 * c.batch_size;
    EXPECT_DOUBLE_EQ(c.latency_p50_ms, latency_ms) << "b=" << c.batch_size;
    EXPECT_DOUBLE_EQ(c.latency_p99_ms, latency_ms);
    EXPECT_NEAR(c.throughput, c.batch_size * 1000.0 / latency_ms,
                0.03 * c.batch_size * 1000.0 / latency_ms)
        << "b=" << c.batch_size;
    EXPECT_EQ(c.memory_bytes, 1000u);
    EXPECT_DOUBLE_EQ(c.utilization, 0.75);
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.back().cell, 3);
  EXPECT_EQ(seen.back().cells, 3);
  EXPECT_GT(table.ProcessingPerformance(), table.cells[0].throughput);  // batching pays here
}

TEST(ProfilerTest, SweepsInstanceCountsWithOneEnginePerInstance) {
  FakeClock clock;
  Profiler profiler(&clock, Options({2}, {1, 2}));
  std::atomic<int> created{0};
  std::vector<std::pair<int, int>> calls;
  SweepEngineFactory factory = [&](int i, int k) -> Result<std::unique_ptr<Engine>> {
    calls.emplace_back(i, k);
    ++created;
    return std::make_unique<ClockAdvancingEngine>(&clock, milliseconds(5), milliseconds(1));
  };
  PerfTable table;
  ASSERT_TRUE(profiler.Run(factory, nullptr, nullptr, table).ok());
  EXPECT_EQ(created.load(), 3);
  EXPECT_EQ(calls, (std::vector<std::pair<int, int>>{{0, 1}, {0, 2}, {1, 2}}));
  ASSERT_EQ(table.cells.size(), 2u);
  EXPECT_EQ(table.cells[1].instances, 2);
  EXPECT_EQ(table.cells[1].memory_bytes, 2000u);
  EXPECT_DOUBLE_EQ(table.cells[0].utilization, -1);  // no probe: unknown
}

TEST(ProfilerTest, SkipsLargerBatchesOnceABatchIsTooSlow) {
  FakeClock clock;
  ProfileOptions o = Options({1, 2, 4, 8}, {1});
  o.max_batch_latency = milliseconds(25);  // b=2 takes 30 ms
  Profiler profiler(&clock, o);
  SweepEngineFactory factory = [&](int, int) -> Result<std::unique_ptr<Engine>> {
    return std::make_unique<ClockAdvancingEngine>(&clock, milliseconds(10), milliseconds(10));
  };
  PerfTable table;
  ASSERT_TRUE(profiler.Run(factory, nullptr, nullptr, table).ok());
  ASSERT_EQ(table.cells.size(), 2u);
  EXPECT_EQ(table.cells.back().batch_size, 2);
}

TEST(ProfilerTest, EngineFailureAbortsWithItsStatus) {
  FakeClock clock;
  Profiler profiler(&clock, Options({1}, {1}));
  SweepEngineFactory factory = [&](int, int) -> Result<std::unique_ptr<Engine>> {
    return std::make_unique<ClockAdvancingEngine>(&clock, milliseconds(10), milliseconds(0), 50);
  };
  PerfTable table;
  Status s = profiler.Run(factory, nullptr, nullptr, table);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "engine exploded");
  SweepEngineFactory broken = [](int, int) -> Result<std::unique_ptr<Engine>> {
    return NotFound("model.onnx missing");
  };
  EXPECT_EQ(profiler.Run(broken, nullptr, nullptr, table).code(), StatusCode::kNotFound);
}

TEST(ProfilerTest, ValidateRejectsEmptyOrNonPositiveSweeps) {
  EXPECT_FALSE(Profiler::Validate(Options({}, {1})).ok());
  EXPECT_FALSE(Profiler::Validate(Options({0}, {1})).ok());
  EXPECT_FALSE(Profiler::Validate(Options({1}, {0})).ok());
  EXPECT_TRUE(Profiler::Validate(Options({1}, {1})).ok());
}

TEST(PercentileTest, NearestRank) {
  std::vector<double> v = {5, 1, 4, 2, 3, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 5);
  EXPECT_DOUBLE_EQ(Percentile(v, 90), 9);
  EXPECT_DOUBLE_EQ(Percentile(v, 99), 10);
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile({}, 50), 0);
}

TEST(MakeRandomBatchTest, FillsDeclaredShapesWithTheBatchSize) {
  std::vector<TensorSpec> specs = {{"img", DataType::kFp32, {-1, 3, 2, 2}}};
  auto batch = MakeRandomBatch(specs, 5, 7);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].shape(), (Shape{5, 3, 2, 2}));
  EXPECT_TRUE(batch[0].Validate().ok());
  auto again = MakeRandomBatch(specs, 5, 7);
  EXPECT_EQ(batch[0].as<float>()[3], again[0].as<float>()[3]);  // seeded
}

}  // namespace
}  // namespace batchwise
