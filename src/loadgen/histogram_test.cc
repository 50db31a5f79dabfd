#include "loadgen/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace batchwise {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 1; v <= 50; ++v) h.Record(nanoseconds(v));
  EXPECT_EQ(h.count(), 50u);
  EXPECT_EQ(h.Percentile(50), nanoseconds(25));
  EXPECT_EQ(h.Percentile(100), nanoseconds(50));
  EXPECT_EQ(h.min(), nanoseconds(1));
  EXPECT_EQ(h.mean().count(), 25);  // 25.5 truncated
}

TEST(LatencyHistogramTest, PercentilesStayWithinTheBucketErrorOfTheExactOnes) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(5e6), 0.8);  // ~5 ms, long tail
  LatencyHistogram h;
  std::vector<int64_t> exact;
  for (int i = 0; i < 200000; ++i) {
    int64_t v = static_cast<int64_t>(dist(rng));
    exact.push_back(v);
    h.Record(nanoseconds(v));
  }
  std::sort(exact.begin(), exact.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    size_t rank = static_cast<size_t>(std::ceil(p / 100 * exact.size())) - 1;
    double truth = static_cast<double>(exact[rank]);
    EXPECT_NEAR(h.Percentile(p).count(), truth, truth / 64) << "p" << p;
  }
  EXPECT_EQ(h.max().count(), exact.back());
  EXPECT_EQ(h.Percentile(100).count(), exact.back());
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, all;
  for (int i = 1; i <= 1000; ++i) {
    (i % 2 ? a : b).Record(microseconds(i));
    all.Record(microseconds(i));
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  for (double p : {1.0, 50.0, 99.0}) EXPECT_EQ(a.Percentile(p), all.Percentile(p));
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
}

TEST(LatencyHistogramTest, EmptyAndNegative) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(99), nanoseconds(0));
  h.Record(nanoseconds(-5));  // clock skew: counted as zero
  EXPECT_EQ(h.max(), nanoseconds(0));
}

}  // namespace
}  // namespace batchwise
