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

// A thread waiting up to 100 ms of fake time for `ready`; `timed_out` says how it ended.
class WaitForReady {
 public:
  explicit WaitForReady(FakeClock& clock)
      : thread_([this, &clock] {
          std::unique_lock<std::mutex> lock(mu_);
          TimePoint deadline = clock.Now() + milliseconds(100);
          while (!ready_) {
            if (clock.WaitUntil(lock, cv_, deadline)) {
              timed_out_ = true;
              break;
            }
          }
        }) {}
  void MakeReady() {
    {
      std::lock_guard<std::mutex> l(mu_);
      ready_ = true;
    }
    cv_.notify_all();
  }
  bool Join() {
    thread_.join();
    return timed_out_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  bool timed_out_ = false;
  std::jthread thread_;  // last: starts after the members it uses
};

TEST(FakeClockTest, WaitUntilReturnsAtTheFakeDeadline) {
  FakeClock clock;
  WaitForReady waiter(clock);
  clock.BlockUntilWaiters(1);
  clock.Advance(milliseconds(100));
  EXPECT_TRUE(waiter.Join());
}

TEST(FakeClockTest, WaitUntilReturnsWhenNotified) {
  FakeClock clock;
  WaitForReady waiter(clock);
  clock.BlockUntilWaiters(1);
  waiter.MakeReady();
  EXPECT_FALSE(waiter.Join());
}

TEST(FakeClockTest, AdvanceToNextDeadlineStepsExactlyToTheEarliestSleeper) {
  FakeClock clock;
  const TimePoint t0 = clock.Now();
  EXPECT_FALSE(clock.AdvanceToNextDeadline());  // nobody parked: time stays
  std::jthread a([&] { clock.SleepUntil(t0 + milliseconds(30)); });
  std::jthread b([&] { clock.SleepUntil(t0 + milliseconds(10)); });
  clock.BlockUntilWaiters(2);
  ASSERT_TRUE(clock.AdvanceToNextDeadline());
  EXPECT_EQ(clock.Now() - t0, milliseconds(10));
  EXPECT_EQ(clock.waiters(), 1);  // b has woken and left the clock before the call returned
  ASSERT_TRUE(clock.AdvanceToNextDeadline());
  EXPECT_EQ(clock.Now() - t0, milliseconds(30));
  EXPECT_EQ(clock.waiters(), 0);
}

TEST(RealClockTest, IsMonotonic) {
  RealClock clock;
  TimePoint a = clock.Now();
  TimePoint b = clock.Now();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace batchwise
