// Controller convergence: every policy runs the same seeded scenario on a simulated engine whose
// latency grows with batch size, with a step change in load in the middle. The numbers printed
// here are the ones quoted in docs/tuning-batching.md.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "batching/batch_controller.h"
#include "batching/testing/simulated_engine.h"

namespace batchwise {
namespace {

using testing::SimulatedEngine;
using testing::SimulatedEngineOptions;

constexpr int64_t kTargetMicros = 20'000;
constexpr int kMaxBatch = 64;
constexpr int kStep = 2;

struct Phase {
  double load;
  int batches;
};

struct PhaseOutcome {
  int largest_within_target = 0;  // the engine's true answer for this phase
  int final_size = 0;
  bool settled = false;
  int64_t batches_to_settle = -1;  // from the phase start to the last settling in it; -1 if none
};

struct Outcome {
  std::vector<PhaseOutcome> phases;
  int64_t direction_changes = 0;
  int64_t size_changes = 0;
  double goodput_per_s = 0;       // samples of batches within target / simulated time
  double throughput_per_s = 0;    // all samples / simulated time
  double violation_fraction = 0;  // batches above target
};

ControllerOptions ScenarioOptions(BatchPolicy policy) {
  ControllerOptions o;
  o.policy = policy;
  o.max_batch_size = kMaxBatch;
  o.step_size = kStep;
  o.latency_target_micros = kTargetMicros;
  o.fixed.batch_size = 8;
  return o;
}

// Saturated load: every batch is full (the queue always holds more than the cap).
Outcome RunScenario(BatchPolicy policy, const std::vector<Phase>& phases, double noise,
                    uint64_t seed = 7) {
  auto controller = CreateBatchController(ScenarioOptions(policy));
  EXPECT_TRUE(controller.ok()) << controller.status();
  SimulatedEngine engine(SimulatedEngineOptions{.noise_fraction = noise, .seed = seed});
  Outcome out;
  double good_samples = 0, all_samples = 0, seconds = 0;
  int64_t violations = 0, total = 0;
  for (const Phase& phase : phases) {
    engine.set_load(phase.load);
    PhaseOutcome po;
    po.largest_within_target = engine.LargestSizeWithin(kTargetMicros, kMaxBatch);
    for (int i = 0; i < phase.batches; ++i) {
      const int size = (*controller)->NextBatchSize();
      const Duration latency = engine.Latency(size);
      const bool within = latency <= std::chrono::microseconds(kTargetMicros);
      const bool was_settled = (*controller)->State().settled;
      (*controller)->OnBatchDone({.batch_size = size, .latency = latency, .queued_samples = 1000});
      if (!was_settled && (*controller)->State().settled) po.batches_to_settle = i + 1;
      good_samples += within ? size : 0;
      all_samples += size;
      violations += within ? 0 : 1;
      seconds += std::chrono::duration<double>(latency).count();
      ++total;
    }
    const ControllerState s = (*controller)->State();
    po.final_size = s.batch_size;
    po.settled = s.settled;
    out.phases.push_back(po);
  }
  const ControllerState s = (*controller)->State();
  out.direction_changes = s.direction_changes;
  out.size_changes = s.size_changes;
  out.goodput_per_s = good_samples / seconds;
  out.throughput_per_s = all_samples / seconds;
  out.violation_fraction = static_cast<double>(violations) / total;
  return out;
}

// True when `p` settled at most `steps` δ-steps below the largest size within target (a size one
// above it, 2.5 % over target in this scenario, is within the noise and also accepted).
bool WithinSteps(const PhaseOutcome& p, int steps) {
  return p.final_size <= p.largest_within_target + 1 &&
         p.final_size > p.largest_within_target - (steps + 1) * kStep;
}

const std::vector<Phase> kStepScenario = {{1.0, 600}, {1.5, 600}, {1.0, 600}};

void Print(BatchPolicy policy, double noise, const Outcome& o) {
  std::string phases;
  for (const PhaseOutcome& p : o.phases) {
    phases += " [best " + std::to_string(p.largest_within_target) + " final " +
              std::to_string(p.final_size) + (p.settled ? " settled after " : " unsettled ") +
              (p.settled ? std::to_string(p.batches_to_settle) : "") + "]";
  }
  std::printf(
      "%-11s noise %.2f: direction changes %4lld, size changes %4lld, goodput %6.1f/s, "
      "throughput %6.1f/s, over target %5.1f%%,%s\n",
      std::string(BatchPolicyName(policy)).c_str(), noise,
      static_cast<long long>(o.direction_changes), static_cast<long long>(o.size_changes),
      o.goodput_per_s, o.throughput_per_s, 100 * o.violation_fraction, phases.c_str());
}

class ConvergenceTest : public ::testing::TestWithParam<double> {};  // noise fraction

TEST_P(ConvergenceTest, AllPoliciesRunTheSameScenario) {
  for (BatchPolicy p :
       {BatchPolicy::kFixed, BatchPolicy::kQueueDelay, BatchPolicy::kAimd, BatchPolicy::kTrend}) {
    const Outcome o = RunScenario(p, kStepScenario, GetParam());
    Print(p, GetParam(), o);
    EXPECT_EQ(o.phases.size(), kStepScenario.size());
  }
}

// Noise-free, the trend settles exactly on the largest size its δ-grid can reach within target.
TEST(ConvergenceTest, TrendSettlesOnLargestSizeWithinTargetWithoutNoise) {
  const Outcome o = RunScenario(BatchPolicy::kTrend, kStepScenario, 0.0);
  for (const PhaseOutcome& p : o.phases) {
    EXPECT_TRUE(p.settled);
    EXPECT_LE(p.final_size, p.largest_within_target);
    EXPECT_GT(p.final_size, p.largest_within_target - kStep);
    EXPECT_LT(p.batches_to_settle, 60) << "(re-)convergence took too long";
  }
}

// With noisy latencies a size one step past the boundary differs from the boundary by less than
// the noise; the trend's confidence bound keeps it at or below the boundary, rarely more than one
// step below it.
TEST_P(ConvergenceTest, TrendSettlesNearLargestSizeWithinTargetInEveryPhase) {
  const Outcome o = RunScenario(BatchPolicy::kTrend, kStepScenario, GetParam());
  for (const PhaseOutcome& p : o.phases) {
    EXPECT_TRUE(p.settled);
    EXPECT_TRUE(WithinSteps(p, 2)) << p.final_size << " vs " << p.largest_within_target;
    EXPECT_LT(p.batches_to_settle, 200) << "(re-)convergence took too long";
  }
}

TEST_P(ConvergenceTest, TrendChangesDirectionMarkedlyLessThanAimd) {
  const Outcome trend = RunScenario(BatchPolicy::kTrend, kStepScenario, GetParam());
  const Outcome aimd = RunScenario(BatchPolicy::kAimd, kStepScenario, GetParam());
  std::printf("direction changes trend %lld vs aimd %lld (ratio %.3f); goodput %.1f vs %.1f/s\n",
              static_cast<long long>(trend.direction_changes),
              static_cast<long long>(aimd.direction_changes),
              static_cast<double>(trend.direction_changes) / aimd.direction_changes,
              trend.goodput_per_s, aimd.goodput_per_s);
  EXPECT_LE(trend.direction_changes * 2, aimd.direction_changes);
  EXPECT_GE(trend.goodput_per_s, 0.97 * aimd.goodput_per_s) << "the trend lost goodput";
}

INSTANTIATE_TEST_SUITE_P(Noise, ConvergenceTest, ::testing::Values(0.0, 0.05, 0.10),
                         [](const auto& info) {
                           return "noise" + std::to_string(static_cast<int>(info.param * 100));
                         });

TEST(ConvergenceTest, TrendResultsHoldAcrossSeeds) {
  int64_t trend_changes = 0, aimd_changes = 0;
  double trend_goodput = 0, aimd_goodput = 0;
  int on_boundary = 0, phases = 0;
  std::string sizes;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const Outcome trend = RunScenario(BatchPolicy::kTrend, kStepScenario, 0.08, seed);
    const Outcome aimd = RunScenario(BatchPolicy::kAimd, kStepScenario, 0.08, seed);
    trend_changes += trend.direction_changes;
    aimd_changes += aimd.direction_changes;
    trend_goodput += trend.goodput_per_s / 10;
    aimd_goodput += aimd.goodput_per_s / 10;
    for (const PhaseOutcome& p : trend.phases) {
      EXPECT_TRUE(p.settled) << "seed " << seed;
      EXPECT_TRUE(WithinSteps(p, 2)) << "seed " << seed << ": " << p.final_size;
      on_boundary += p.final_size <= p.largest_within_target && WithinSteps(p, 0);
      ++phases;
      sizes += " " + std::to_string(p.final_size);
    }
  }
  std::printf(
      "10 seeds, noise 0.08: direction changes trend %lld vs aimd %lld; mean goodput "
      "%.1f vs %.1f/s; settled sizes%s; on the boundary in %d of %d phases\n",
      static_cast<long long>(trend_changes), static_cast<long long>(aimd_changes), trend_goodput,
      aimd_goodput, sizes.c_str(), on_boundary, phases);
  EXPECT_LE(trend_changes * 2, aimd_changes);
  EXPECT_GE(trend_goodput, 0.97 * aimd_goodput);
  EXPECT_GE(on_boundary * 2, phases) << "the trend should settle on the boundary mostly";
}

}  // namespace
}  // namespace batchwise
