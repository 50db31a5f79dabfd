#include "placement/rebalancer.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

using std::chrono::seconds;

class RebalancerTest : public ::testing::Test {
 protected:
  std::optional<Rebalancer::Move> Observe(double hot, double cold) {
    std::vector<WorkloadSample> s = {{"gpu", hot}, {"cpu:0", cold}};
    auto m = rb_.Observe(clock_.Now(), s);
    clock_.Advance(seconds(1));
    return m;
  }
  FakeClock clock_;
  Rebalancer rb_ = Rebalancer::Create({.margin = 0.2, .sustain = seconds(5),
                                       .cooldown = seconds(20)}).value();
};

TEST_F(RebalancerTest, MovesAfterASustainedShift) {
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Observe(0.9, 0.3)) << "too early at " << i;
  auto m = Observe(0.9, 0.3);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->from, "gpu");
  EXPECT_EQ(m->to, "cpu:0");
  EXPECT_EQ(m->sustained, seconds(5));
}

TEST_F(RebalancerTest, IgnoresASpike) {
  for (int i = 0; i < 30; ++i) {
    bool spike = i % 4 == 0;  // imbalanced 1 s in 4: never for 5 s straight
    EXPECT_FALSE(Observe(spike ? 0.95 : 0.35, 0.3)) << i;
  }
}

TEST_F(RebalancerTest, SmallDifferencesNeverMove) {
  for (int i = 0; i < 30; ++i) EXPECT_FALSE(Observe(0.5, 0.31));
}

TEST_F(RebalancerTest, CooldownPreventsFlapping) {
  for (int i = 0; i < 5; ++i) Observe(0.9, 0.3);
  ASSERT_TRUE(Observe(0.9, 0.3));
  int moves = 0;
  for (int i = 0; i < 19; ++i) moves += Observe(0.9, 0.3).has_value();
  EXPECT_EQ(moves, 0);
  // The cooldown is over and the imbalance has persisted for `sustain` since the last move.
  EXPECT_TRUE(Observe(0.9, 0.3));
}

TEST(RebalancerCreateTest, ValidatesOptions) {
  EXPECT_FALSE(Rebalancer::Create({.margin = 0}).ok());
  EXPECT_FALSE(Rebalancer::Create({.margin = 0.1, .sustain = seconds(-1)}).ok());
}

}  // namespace
}  // namespace batchwise
