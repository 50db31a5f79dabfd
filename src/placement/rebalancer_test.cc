#include "placement/rebalancer.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

using std::chrono::seconds;

// A processor whose workload is w_u·u alone (default w_u = 0.5), with the instances on it.
WorkloadSample Sample(const std::string& id, double u, std::vector<InstanceLoad> instances = {},
                      double performance = 100) {
  return {id, 0.5 * u, u, performance, std::move(instances)};
}

class RebalancerTest : public ::testing::Test {
 protected:
  std::optional<Rebalancer::Move> Observe(std::vector<WorkloadSample> samples) {
    auto m = rb_.Observe(clock_.Now(), samples);
    clock_.Advance(seconds(1));
    return m;
  }
  // gpu at `hot` with two instances of half of it each; cpu:0 at `cold` with none.
  std::optional<Rebalancer::Move> Observe(double hot, double cold) {
    return Observe({Sample("gpu", hot, {{"a", hot / 2}, {"b", hot / 2}}), Sample("cpu:0", cold)});
  }
  FakeClock clock_;
  Rebalancer rb_ = Rebalancer::Create({.margin = 0.2, .sustain = seconds(5),
                                       .cooldown = seconds(20)}).value();
};

TEST_F(RebalancerTest, MovesAfterASustainedShift) {
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Observe(1.0, 0.0)) << "too early at " << i;
  auto m = Observe(1.0, 0.0);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->from, "gpu");
  EXPECT_EQ(m->to, "cpu:0");
  EXPECT_EQ(m->sustained, seconds(5));
  ASSERT_EQ(m->helpful.size(), 2u);  // either half evens the two out
  EXPECT_DOUBLE_EQ(m->helpful[0].from_workload_after, 0.25);
  EXPECT_DOUBLE_EQ(m->helpful[0].to_workload_after, 0.25);
  EXPECT_DOUBLE_EQ(m->helpful[0].gain, 0.5);
}

TEST_F(RebalancerTest, IgnoresASpike) {
  for (int i = 0; i < 30; ++i) {
    bool spike = i % 4 == 0;  // imbalanced 1 s in 4: never for 5 s straight
    EXPECT_FALSE(Observe(spike ? 0.95 : 0.35, 0.3)) << i;
  }
}

TEST_F(RebalancerTest, SmallDifferencesNeverMove) {
  for (int i = 0; i < 30; ++i) EXPECT_FALSE(Observe(0.7, 0.31));
}

// The ping-pong the rule prevents: a single busy instance beside an idle processor. Moving it
// would make the idle processor the hot one with the same gap, so no move is worth making; the
// verdict comes once per cooldown, with the numbers.
TEST_F(RebalancerTest, ASingleBusyInstanceBesideAnIdleProcessorStaysPut) {
  int verdicts = 0;
  for (int i = 0; i < 600; ++i) {
    auto m = Observe({Sample("cpu:0", 0.9, {{"m", 0.9}}), Sample("cpu:1", 0)});
    if (!m) continue;
    ++verdicts;
    EXPECT_TRUE(m->helpful.empty());
    ASSERT_TRUE(m->best);
    EXPECT_EQ(m->best->model, "m");
    EXPECT_DOUBLE_EQ(m->best->gain, 0);
    EXPECT_EQ(m->detail,
              "after moving m (busy 0.90), cpu:1 would be at 0.45 against cpu:0's 0.00: the gap "
              "of 0.45 shrinks by 0.00, less than the margin 0.20: no gain");
  }
  EXPECT_LE(verdicts, 600 / 20 + 1);  // at most one per cooldown
}

TEST_F(RebalancerTest, AMoveThatWouldOvershootIsNotWorthMaking) {
  // One instance of 0.7 on a processor at 0.8, the other processor at 0.3: after the move
  // cpu:1 would be at 0.5 against cpu:0's 0.05, a gap of 0.45 for one of 0.25.
  for (int i = 0; i < 5; ++i) Observe({Sample("cpu:0", 0.8, {{"m", 0.7}}), Sample("cpu:1", 0.3)});
  auto m = Observe({Sample("cpu:0", 0.8, {{"m", 0.7}}), Sample("cpu:1", 0.3)});
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->helpful.empty());
  EXPECT_NEAR(m->best->from_workload_after, 0.05, 1e-9);
  EXPECT_NEAR(m->best->to_workload_after, 0.5, 1e-9);
}

TEST_F(RebalancerTest, ALoadBesideTheInstanceMakesItsMoveWorthwhile) {
  // cpu:0 is at 0.9, of which the instance is 0.4 (the rest is not ours): moving it leaves 0.25
  // against 0.2, a gap of 0.05 for one of 0.45.
  for (int i = 0; i < 5; ++i) Observe({Sample("cpu:0", 0.9, {{"m", 0.4}}), Sample("cpu:1", 0)});
  auto m = Observe({Sample("cpu:0", 0.9, {{"m", 0.4}}), Sample("cpu:1", 0)});
  ASSERT_TRUE(m);
  ASSERT_EQ(m->helpful.size(), 1u);
  EXPECT_NEAR(m->helpful[0].gain, 0.4, 1e-9);
}

TEST_F(RebalancerTest, AnInstancesShareIsScaledByThePerformanceOfWhereItGoes) {
  // On a gpu 4x as fast as the cpu, a share of 0.2 keeps the cpu busy 0.8 of the time.
  auto samples = [] {
    return std::vector<WorkloadSample>{Sample("gpu", 0.9, {{"a", 0.2}, {"b", 0.7}}, 400),
                                       Sample("cpu:0", 0, {}, 100)};
  };
  for (int i = 0; i < 5; ++i) Observe(samples());
  auto m = Observe(samples());
  ASSERT_TRUE(m);
  ASSERT_EQ(m->helpful.size(), 1u);  // b (0.7 → 2.8, capped at 1) would overload the cpu
  EXPECT_EQ(m->helpful[0].model, "a");
  EXPECT_NEAR(m->helpful[0].from_workload_after, 0.35, 1e-9);
  EXPECT_NEAR(m->helpful[0].to_workload_after, 0.4, 1e-9);
}

TEST_F(RebalancerTest, NoInstanceOnTheHotProcessorIsNoMove) {
  for (int i = 0; i < 5; ++i) Observe({Sample("gpu", 0.9), Sample("cpu:0", 0)});
  auto m = Observe({Sample("gpu", 0.9), Sample("cpu:0", 0)});
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->helpful.empty());
  EXPECT_FALSE(m->best);
  EXPECT_EQ(m->detail, "no instance runs on gpu");
}

// After a move the numbers follow the instance: the two processors are even and nothing moves
// again, however long it runs.
TEST_F(RebalancerTest, AfterAMoveTheNumbersFollowAndNothingMovesBack) {
  for (int i = 0; i < 5; ++i) Observe(1.0, 0.0);
  ASSERT_TRUE(Observe(1.0, 0.0));  // "a" moves to cpu:0
  int proposals = 0;
  for (int i = 0; i < 600; ++i) {
    proposals +=
        Observe({Sample("gpu", 0.5, {{"b", 0.5}}), Sample("cpu:0", 0.5, {{"a", 0.5}})}).has_value();
  }
  EXPECT_EQ(proposals, 0);
}

// A proposal whose move was not carried out (the scheduler could not place it) leaves the numbers
// as they were: it is proposed again only after the cooldown and another `sustain`.
TEST_F(RebalancerTest, CooldownSpacesRepeatedProposals) {
  for (int i = 0; i < 5; ++i) Observe(1.0, 0.0);
  ASSERT_TRUE(Observe(1.0, 0.0));
  int moves = 0;
  for (int i = 0; i < 19; ++i) moves += Observe(1.0, 0.0).has_value();
  EXPECT_EQ(moves, 0);
  EXPECT_TRUE(Observe(1.0, 0.0));
}

TEST(RebalancerCreateTest, ValidatesOptions) {
  EXPECT_FALSE(Rebalancer::Create({.margin = 0}).ok());
  EXPECT_FALSE(Rebalancer::Create({.margin = 0.1, .sustain = seconds(-1)}).ok());
}

}  // namespace
}  // namespace batchwise
