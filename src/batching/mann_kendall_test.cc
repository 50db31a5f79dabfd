#include "batching/mann_kendall.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace batchwise {
namespace {

TEST(MannKendallTest, StrictlyIncreasingFive) {
  // S = 10; Var = 5·4·15/18 = 16.667; Z = 9/√16.667 = 2.2045 > 1.96.
  const std::vector<double> x = {1, 2, 3, 4, 5};
  const MannKendallResult r = MannKendall(x, 0.05);
  EXPECT_EQ(r.s, 10);
  EXPECT_NEAR(r.var_s, 300.0 / 18, 1e-12);
  EXPECT_NEAR(r.z, 9 / std::sqrt(300.0 / 18), 1e-12);
  EXPECT_EQ(r.trend, Trend::kIncreasing);
  EXPECT_TRUE(r.significant);
}

TEST(MannKendallTest, OneTiedPairReducesTheVariance) {
  // {1,2,2,3}: S = 5 (the tied pair adds 0); ties: one group of 2 → 2·1·9 = 18;
  // Var = (4·3·13 − 18)/18 = 138/18; Z = 4/√7.667 = 1.4446, not significant.
  const std::vector<double> x = {1, 2, 2, 3};
  const MannKendallResult r = MannKendall(x, 0.05);
  EXPECT_EQ(r.s, 5);
  EXPECT_NEAR(r.var_s, 138.0 / 18, 1e-12);
  EXPECT_NEAR(r.z, 4 / std::sqrt(138.0 / 18), 1e-12);
  EXPECT_EQ(r.trend, Trend::kIncreasing);
  EXPECT_FALSE(r.significant);
}

TEST(MannKendallTest, TwoTieGroupsAndANegativeS) {
  // {3,3,1,1,2}: S = −3 −3 +1 +1 = −4; ties: two groups of 2 → 36; Var = (300 − 36)/18 = 14.667;
  // Z = (−4 + 1)/√14.667 = −0.7833.
  const std::vector<double> x = {3, 3, 1, 1, 2};
  const MannKendallResult r = MannKendall(x, 0.05);
  EXPECT_EQ(r.s, -4);
  EXPECT_NEAR(r.var_s, 264.0 / 18, 1e-12);
  EXPECT_NEAR(r.z, -3 / std::sqrt(264.0 / 18), 1e-12);
  EXPECT_EQ(r.trend, Trend::kDecreasing);
  EXPECT_FALSE(r.significant);
}

TEST(MannKendallTest, BatchSizeSeriesWithATripleTie) {
  // {4,6,6,6,8,8}: S: 4 → +5; each 6 → +2 (vs the two 8s) ×3 = 6; the 8s: 0 → S = 11.
  // Ties: 3 → 3·2·11 = 66, 2 → 18; Var = (6·5·17 − 84)/18 = 426/18; Z = 10/√23.667 = 2.0556.
  const std::vector<double> x = {4, 6, 6, 6, 8, 8};
  const MannKendallResult r = MannKendall(x, 0.05);
  EXPECT_EQ(r.s, 11);
  EXPECT_NEAR(r.var_s, 426.0 / 18, 1e-12);
  EXPECT_NEAR(r.z, 10 / std::sqrt(426.0 / 18), 1e-12);
  EXPECT_TRUE(r.significant);                      // 2.0556 > 1.9600
  EXPECT_FALSE(MannKendall(x, 0.01).significant);  // 2.0556 < 2.5758
}

TEST(MannKendallTest, ConstantSeriesHasNoTrendAndZeroVariance) {
  const std::vector<double> x(16, 32.0);
  const MannKendallResult r = MannKendall(x);
  EXPECT_EQ(r.s, 0);
  EXPECT_EQ(r.var_s, 0);
  EXPECT_EQ(r.z, 0);
  EXPECT_EQ(r.trend, Trend::kNone);
  EXPECT_FALSE(r.significant);
}

TEST(MannKendallTest, FewerThanTwoValuesGiveNothing) {
  EXPECT_EQ(MannKendall(std::vector<double>{}).s, 0);
  EXPECT_EQ(MannKendall(std::vector<double>{5}).trend, Trend::kNone);
}

TEST(MannKendallTest, TwoValuesHaveZeroZAfterContinuityCorrection) {
  const MannKendallResult r = MannKendall(std::vector<double>{1, 2});
  EXPECT_EQ(r.s, 1);
  EXPECT_NEAR(r.var_s, 1.0, 1e-12);  // 2·1·9/18
  EXPECT_EQ(r.z, 0);
  EXPECT_EQ(r.trend, Trend::kNone);
}

TEST(MannKendallTest, SixtyFourPairedTiesHandWorked) {
  // x_i = floor(i/2), i = 0..63: 32 groups of 2. S = 2016 − 32 = 1984;
  // Var = (64·63·133 − 32·18)/18 = 535680/18 = 29760; Z = 1983/√29760.
  std::vector<double> x;
  for (int i = 0; i < 64; ++i) x.push_back(i / 2);
  const MannKendallResult r = MannKendall(x);
  EXPECT_EQ(r.s, 1984);
  EXPECT_NEAR(r.var_s, 29760, 1e-9);
  EXPECT_NEAR(r.z, 1983 / std::sqrt(29760.0), 1e-12);
  EXPECT_TRUE(r.significant);
}

// Monotone series of every length 2…64: S = ±n(n−1)/2, Var = n(n−1)(2n+5)/18, and the decision
// flips from "not significant" to "significant" at n = 5 for α = 0.05 (|Z| = 1.70 at n = 4).
class MannKendallLengthTest : public ::testing::TestWithParam<int> {};

TEST_P(MannKendallLengthTest, MonotoneSeries) {
  const int n = GetParam();
  std::vector<double> up, down;
  for (int i = 0; i < n; ++i) up.push_back(i), down.push_back(n - i);
  const double s = n * (n - 1) / 2.0;
  const double var = n * (n - 1.0) * (2 * n + 5) / 18;
  const MannKendallResult ru = MannKendall(up), rd = MannKendall(down);
  EXPECT_EQ(ru.s, s);
  EXPECT_EQ(rd.s, -s);
  EXPECT_NEAR(ru.var_s, var, 1e-9);
  EXPECT_NEAR(ru.z, (s - 1) / std::sqrt(var), 1e-12);
  EXPECT_NEAR(rd.z, -(s - 1) / std::sqrt(var), 1e-12);
  EXPECT_EQ(ru.significant, n >= 5);
  EXPECT_EQ(rd.significant, n >= 5);
  if (n >= 5) EXPECT_EQ(rd.trend, Trend::kDecreasing);
}

// An alternating series (1,2,1,2,…) oscillates around a level: never a significant trend.
TEST_P(MannKendallLengthTest, AlternatingSeriesIsNotSignificant) {
  std::vector<double> x;
  for (int i = 0; i < GetParam(); ++i) x.push_back(1 + i % 2);
  EXPECT_FALSE(MannKendall(x).significant);
}

INSTANTIATE_TEST_SUITE_P(N2To64, MannKendallLengthTest, ::testing::Range(2, 65));

TEST(InverseNormalCdfTest, KnownQuantiles) {
  EXPECT_NEAR(InverseNormalCdf(0.5), 0.0, 1e-15);
  EXPECT_NEAR(InverseNormalCdf(0.975), 1.959963984540054, 1e-12);
  EXPECT_NEAR(InverseNormalCdf(0.995), 2.575829303548901, 1e-12);
  EXPECT_NEAR(InverseNormalCdf(0.95), 1.644853626951472, 1e-12);
  EXPECT_NEAR(InverseNormalCdf(0.001), -3.090232306167813, 1e-12);
  EXPECT_NEAR(InverseNormalCdf(1e-10), -6.361340902404056, 1e-9);
  EXPECT_TRUE(std::isinf(InverseNormalCdf(1.0)));
  EXPECT_TRUE(std::isnan(InverseNormalCdf(1.5)));
}

TEST(InverseNormalCdfTest, CriticalZFollowsAlpha) {
  EXPECT_NEAR(MannKendallCriticalZ(0.05), 1.959963984540054, 1e-12);
  EXPECT_NEAR(MannKendallCriticalZ(0.10), 1.644853626951472, 1e-12);
  EXPECT_NEAR(MannKendallCriticalZ(0.01), 2.575829303548901, 1e-12);
}

}  // namespace
}  // namespace batchwise
