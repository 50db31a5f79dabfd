#include "frontend/accept_backoff.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

using std::chrono::milliseconds;

TEST(AcceptBackoffTest, DelayDoublesFrom10msTo1sAndASuccessResetsIt) {
  AcceptBackoff b;
  TimePoint t(std::chrono::seconds(1));
  std::vector<int64_t> delays;
  for (int i = 0; i < 9; ++i) {
    delays.push_back(std::chrono::duration_cast<milliseconds>(b.OnError(t).delay).count());
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{10, 20, 40, 80, 160, 320, 640, 1000, 1000}));
  b.OnSuccess();
  EXPECT_EQ(b.OnError(t).delay, milliseconds(10));
}

TEST(AcceptBackoffTest, LogsAtMostOnceASecondCountingTheSuppressed) {
  AcceptBackoff b;
  TimePoint t(std::chrono::seconds(1));
  auto first = b.OnError(t);
  EXPECT_TRUE(first.log);
  EXPECT_EQ(first.suppressed, 0u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(b.OnError(t + milliseconds(100 * (i + 1))).log);
  auto next = b.OnError(t + milliseconds(1000));
  EXPECT_TRUE(next.log);
  EXPECT_EQ(next.suppressed, 5u);
  b.OnSuccess();  // a success resets the delay, not the log's rate
  EXPECT_FALSE(b.OnError(t + milliseconds(1500)).log);
}

}  // namespace
}  // namespace batchwise
