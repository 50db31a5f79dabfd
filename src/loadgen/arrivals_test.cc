#include "loadgen/arrivals.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

int CountIn(ArrivalGenerator& g, Duration from, Duration to) {
  int n = 0;
  while (auto t = g.Next()) {
    if (*t >= from && *t < to) ++n;
  }
  return n;
}

TEST(RateScheduleTest, ParsesStepsAndRamps) {
  auto s = RateSchedule::Parse("30s@100,500ms@0,1m@10->50");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->phases().size(), 3u);
  EXPECT_EQ(s->total(), seconds(30) + milliseconds(500) + seconds(60));
  EXPECT_DOUBLE_EQ(s->RateAt(seconds(10)), 100);
  EXPECT_DOUBLE_EQ(s->RateAt(seconds(30) + milliseconds(200)), 0);
  EXPECT_DOUBLE_EQ(s->RateAt(seconds(30) + milliseconds(500) + seconds(30)), 30);  // mid-ramp
  EXPECT_DOUBLE_EQ(s->RateAt(seconds(1000)), 0);
  EXPECT_EQ(s->PhaseAt(seconds(31)), 2u);
}

TEST(RateScheduleTest, RejectsMalformedSpecs) {
  for (const char* bad : {"", "30s", "30s@", "x@10", "10s@-5", "0s@10", "10s@1->", "10q@5"}) {
    EXPECT_FALSE(RateSchedule::Parse(bad).ok()) << bad;
  }
}

TEST(ArrivalGeneratorTest, ConstantArrivalsAreEvenlySpaced) {
  ArrivalGenerator g(RateSchedule::Constant(seconds(1), 100), ArrivalProcess::kConstant, 1);
  EXPECT_EQ(*g.Next(), Duration(0));
  EXPECT_EQ(*g.Next(), milliseconds(10));
  int rest = 0;
  while (g.Next()) ++rest;
  EXPECT_EQ(rest, 98);
}

TEST(ArrivalGeneratorTest, PoissonMatchesTheRateOfEachStep) {
  ArrivalGenerator g(*RateSchedule::Parse("20s@200,20s@800"), ArrivalProcess::kPoisson, 42);
  ArrivalGenerator again(*RateSchedule::Parse("20s@200,20s@800"), ArrivalProcess::kPoisson, 42);
  int low = 0, high = 0;
  while (auto t = g.Next()) {
    (*t < seconds(20) ? low : high)++;
    EXPECT_EQ(*t, *again.Next());  // seeded: the same sequence
  }
  EXPECT_NEAR(low, 4000, 4000 * 0.05);  // ~4.5 sigma of a Poisson count
  EXPECT_NEAR(high, 16000, 16000 * 0.03);
}

TEST(ArrivalGeneratorTest, IdlePhasesSendNothing) {
  ArrivalGenerator g(*RateSchedule::Parse("1s@10,1s@0,1s@10"), ArrivalProcess::kConstant, 1);
  EXPECT_EQ(CountIn(g, seconds(1), seconds(2)), 0);
}

}  // namespace
}  // namespace batchwise
