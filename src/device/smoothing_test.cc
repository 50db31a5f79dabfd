#include "device/smoothing.h"

#include <gtest/gtest.h>

#include <cmath>

namespace batchwise {
namespace {

using std::chrono::milliseconds;

const TimePoint kT0 = TimePoint(std::chrono::seconds(10));

TEST(EwmaTest, FirstSampleIsTakenAsIs) {
  Ewma e(milliseconds(1000));
  EXPECT_TRUE(e.empty());
  EXPECT_DOUBLE_EQ(e.Add(0.7, kT0), 0.7);
  EXPECT_FALSE(e.empty());
}

TEST(EwmaTest, WeightIsOneMinusExpOfIntervalOverTimeConstant) {
  Ewma e(milliseconds(1000));
  e.Add(0.0, kT0);
  const double alpha = 1.0 - std::exp(-0.5);
  EXPECT_DOUBLE_EQ(e.Add(1.0, kT0 + milliseconds(500)), alpha);
  EXPECT_DOUBLE_EQ(e.Add(1.0, kT0 + milliseconds(1000)), alpha + alpha * (1 - alpha));
  EXPECT_DOUBLE_EQ(Ewma::Alpha(milliseconds(1000), milliseconds(1000)), 1.0 - std::exp(-1.0));
}

TEST(EwmaTest, StepResponseDoesNotDependOnTheSamplingPeriod) {
  // A step from 0 to 1: after 3 s the average is 1 - exp(-3) however the 3 s are sampled.
  for (int period_ms : {100, 250, 500, 1500, 3000}) {
    Ewma e(milliseconds(1000));
    e.Add(0.0, kT0);
    double v = 0;
    for (int t = period_ms; t <= 3000; t += period_ms) v = e.Add(1.0, kT0 + milliseconds(t));
    EXPECT_NEAR(v, 1.0 - std::exp(-3.0), 1e-12) << "period " << period_ms << " ms";
  }
}

TEST(EwmaTest, LongGapAlmostReplacesTheAverage) {
  Ewma e(milliseconds(1000));
  e.Add(0.0, kT0);
  EXPECT_NEAR(e.Add(1.0, kT0 + std::chrono::seconds(30)), 1.0, 1e-12);
}

TEST(EwmaTest, SampleAtTheSameTimeHasNoWeight) {
  Ewma e(milliseconds(1000));
  e.Add(0.2, kT0);
  EXPECT_DOUBLE_EQ(e.Add(0.9, kT0), 0.2);
  EXPECT_DOUBLE_EQ(e.Add(0.9, kT0 - milliseconds(5)), 0.2);
}

TEST(EwmaTest, ZeroTimeConstantDisablesSmoothing) {
  Ewma e(Duration::zero());
  e.Add(0.2, kT0);
  EXPECT_DOUBLE_EQ(e.Add(0.9, kT0 + milliseconds(1)), 0.9);
  EXPECT_DOUBLE_EQ(e.Add(0.4, kT0 + milliseconds(1)), 0.4);
}

}  // namespace
}  // namespace batchwise
