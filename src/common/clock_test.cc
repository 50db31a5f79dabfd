#include "common/clock.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

namespace batchwise {
namespace {

using std::chrono::milliseconds;

TEST(FakeClockTest, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  TimePoint t0 = clock.Now();
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(milliseconds(5));
  EXPECT_EQ(clock.Now() - t0, milliseconds(5));
  clock.AdvanceTo(t0);  // never backwards
  EXPECT_EQ(clock.Now() - t0, milliseconds(5));
}

TEST(FakeClockTest, SleeperWakesExactlyWhenItsDeadlineComes) {
  FakeClock clock;
  std::atomic<bool> woke{false};
  std::jthread sleeper([&] {
    clock.SleepFor(milliseconds(10));
    woke = true;
  });
  clock.BlockUntilWaiters(1);
  clock.Advance(milliseconds(9));
  EXPECT_FALSE(woke.load());
  EXPECT_EQ(clock.waiters(), 1);
  clock.Advance(milliseconds(1));
  sleeper.join();
  EXPECT_TRUE(woke.load());
}

TEST(FakeClockTest, WaitUntilReturnsOnNotifyOrOnFakeDeadline) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  bool timed_out = false;
  std::jthread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    TimePoint deadline = clock.Now() + milliseconds(100);
    while (!ready) {
      if (clock.WaitUntil(lock, cv, deadline)) {
        timed_out = true;
        break;
      }
    }
  });
  clock.BlockUntilWaiters(1);
  clock.Advance(milliseconds(100));
  waiter.join();
  EXPECT_TRUE(timed_out);

  timed_out = false;
  std::jthread notified([&] {
    std::unique_lock<std::mutex> lock(mu);
    TimePoint deadline = clock.Now() + milliseconds(100);
    while (!ready) {
      if (clock.WaitUntil(lock, cv, deadline)) {
        timed_out = true;
        break;
      }
    }
  });
  clock.BlockUntilWaiters(1);
  {
    std::lock_guard<std::mutex> l(mu);
    ready = true;
  }
  cv.notify_all();
  notified.join();
  EXPECT_FALSE(timed_out);
}

TEST(RealClockTest, IsMonotonic) {
  RealClock clock;
  TimePoint a = clock.Now();
  TimePoint b = clock.Now();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace batchwise
