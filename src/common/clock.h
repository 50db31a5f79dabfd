// Clock: the one source of time for the batcher, the controller, the monitor and the profiler.
//
// Everything that reads time or waits for it takes a Clock&, so tests run on FakeClock and never
// sleep. Implementations are thread-safe. The caller owns the clock; it must outlive its users.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>

namespace batchwise {

using Duration = std::chrono::nanoseconds;
// Time since an arbitrary, fixed epoch of the clock (steady: never goes backwards).
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;

  virtual TimePoint Now() const = 0;

  // Blocks the calling thread until Now() >= deadline.
  virtual void SleepUntil(TimePoint deadline) = 0;
  void SleepFor(Duration d) { SleepUntil(Now() + d); }

  // Waits on `cv` (with `lock` held, as std::condition_variable::wait does) until it is notified
  // or Now() >= deadline. May return early (spuriously): callers loop on their own predicate.
  // Returns true when the deadline has passed.
  virtual bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         TimePoint deadline) = 0;
};

// Wall time from std::chrono::steady_clock.
class RealClock final : public Clock {
 public:
  TimePoint Now() const override;
  void SleepUntil(TimePoint deadline) override;
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override;
};

// A process-wide RealClock for production wiring (never for tests of timing logic).
Clock& SystemClock();

// Time that moves only when a test says so. Advance() wakes every sleeper and waiter whose
// deadline has come, so timing logic runs deterministically without real sleeps.
// Thread-safe: any thread may Advance() while others sleep or wait.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::seconds(1)));

  TimePoint Now() const override;
  void SleepUntil(TimePoint deadline) override;
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) override;

  void Advance(Duration d);
  void AdvanceTo(TimePoint t);

  // Blocks (in real time) until at least `n` threads are inside SleepUntil()/WaitUntil(), so a
  // test can be sure a background thread is parked before it advances time.
  void BlockUntilWaiters(int n) const;
  int waiters() const;

  // Discrete-event stepping: moves time to the earliest deadline any sleeper or waiter is parked
  // on, then blocks (in real time) until every thread whose deadline has come has woken and left.
  // Returns false, without moving time, when no thread is parked.
  bool AdvanceToNextDeadline();

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // time moved or waiter count changed
  TimePoint now_;                            // guarded by mu_
  int waiters_ = 0;                          // guarded by mu_
  std::multiset<std::condition_variable*> waiting_cvs_;  // guarded by mu_
  std::multiset<TimePoint> deadlines_;                   // guarded by mu_: of parked threads
};

}  // namespace batchwise
