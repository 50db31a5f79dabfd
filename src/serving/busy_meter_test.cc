#include "serving/busy_meter.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kStart(seconds(100));

TEST(BusyMeterTest, CountsBusyTimeOverTheTimeSinceItsStartWhileYoungerThanTheWindow) {
  BusyMeter m(kStart, seconds(10));
  EXPECT_EQ(m.BusyFraction(kStart), 0);
  m.Add(kStart, kStart + milliseconds(500));
  EXPECT_DOUBLE_EQ(m.BusyFraction(kStart + seconds(1)), 0.5);
  EXPECT_DOUBLE_EQ(m.BusyFraction(kStart + seconds(2)), 0.25);
}

TEST(BusyMeterTest, ForgetsWhatLeftTheWindow) {
  BusyMeter m(kStart, seconds(10), 10);
  for (int s = 0; s < 10; ++s) {  // 80 % busy for 10 s
    m.Add(kStart + seconds(s), kStart + seconds(s) + milliseconds(800));
  }
  EXPECT_NEAR(m.BusyFraction(kStart + seconds(10)), 0.8, 1e-9);
  // Idle from then on: after a whole window nothing is left.
  EXPECT_NEAR(m.BusyFraction(kStart + seconds(15)), 3.2 / 9, 1e-9);  // slots 6..9 of 6..15
  EXPECT_EQ(m.BusyFraction(kStart + seconds(21)), 0);
}

TEST(BusyMeterTest, ABatchSpanningSlotsCountsInEach) {
  BusyMeter m(kStart, seconds(4), 4);
  m.Add(kStart + milliseconds(500), kStart + milliseconds(2500));  // 0.5 s, 1 s, 0.5 s
  EXPECT_DOUBLE_EQ(m.BusyFraction(kStart + seconds(3)), 2.0 / 3);
  // From 4 s the window is slots 1..4: slot 0's 0.5 s has left it.
  EXPECT_DOUBLE_EQ(m.BusyFraction(kStart + seconds(4)), 1.5 / 3);
  EXPECT_NEAR(m.BusyFraction(kStart + milliseconds(4500)), 1.5 / 3.5, 1e-9);
}

TEST(BusyMeterTest, NeverExceedsOne) {
  BusyMeter m(kStart, seconds(1));
  m.Add(kStart, kStart + seconds(5));
  EXPECT_EQ(m.BusyFraction(kStart + seconds(5)), 1);
}

}  // namespace
}  // namespace batchwise
