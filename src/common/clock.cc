#include "common/clock.h"

#include <thread>

namespace batchwise {

TimePoint RealClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

void RealClock::SleepUntil(TimePoint deadline) { std::this_thread::sleep_until(deadline); }

bool RealClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          TimePoint deadline) {
  return cv.wait_until(lock, deadline) == std::cv_status::timeout;
}

Clock& SystemClock() {
  static RealClock clock;
  return clock;
}

FakeClock::FakeClock(TimePoint start) : now_(start) {}

TimePoint FakeClock::Now() const {
  std::lock_guard<std::mutex> l(mu_);
  return now_;
}

void FakeClock::SleepUntil(TimePoint deadline) {
  std::unique_lock<std::mutex> l(mu_);
  ++waiters_;
  auto it = deadlines_.insert(deadline);
  changed_.notify_all();
  changed_.wait(l, [&] { return now_ >= deadline; });
  deadlines_.erase(it);
  --waiters_;
  changed_.notify_all();
}

bool FakeClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          TimePoint deadline) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (now_ >= deadline) return true;
    ++waiters_;
    waiting_cvs_.insert(&cv);
    deadlines_.insert(deadline);
    changed_.notify_all();
  }
  // Advance() notifies `cv` without holding the caller's mutex, so a notification that falls
  // between the registration above and the wait below could be missed; the short real-time
  // bound turns that window into a brief retry instead of a hang. It never decides an outcome:
  // the caller re-checks its predicate and this returns deadline-passed only by fake time.
  cv.wait_for(lock, std::chrono::milliseconds(1));
  std::lock_guard<std::mutex> l(mu_);
  --waiters_;
  waiting_cvs_.erase(waiting_cvs_.find(&cv));
  deadlines_.erase(deadlines_.find(deadline));
  changed_.notify_all();
  return now_ >= deadline;
}

void FakeClock::Advance(Duration d) {
  std::lock_guard<std::mutex> l(mu_);
  now_ += d;
  changed_.notify_all();
  for (auto* cv : waiting_cvs_) cv->notify_all();
}

void FakeClock::AdvanceTo(TimePoint t) {
  std::lock_guard<std::mutex> l(mu_);
  if (t > now_) now_ = t;
  changed_.notify_all();
  for (auto* cv : waiting_cvs_) cv->notify_all();
}

void FakeClock::BlockUntilWaiters(int n) const {
  std::unique_lock<std::mutex> l(mu_);
  changed_.wait(l, [&] { return waiters_ >= n; });
}

bool FakeClock::AdvanceToNextDeadline() {
  std::unique_lock<std::mutex> l(mu_);
  if (deadlines_.empty()) return false;
  if (*deadlines_.begin() > now_) now_ = *deadlines_.begin();
  changed_.notify_all();
  for (auto* cv : waiting_cvs_) cv->notify_all();
  changed_.wait(l, [&] { return deadlines_.empty() || *deadlines_.begin() > now_; });
  return true;
}

int FakeClock::waiters() const {
  std::lock_guard<std::mutex> l(mu_);
  return waiters_;
}

}  // namespace batchwise
