// AcceptBackoff: what the HTTP acceptor does after a failed accept() (EMFILE, ENFILE, ENOBUFS...):
// the connection stays in the listen backlog, so accepting again at once would fail again at once
// and spin. It pauses instead, 10 ms doubling to 1 s (a success resets it), and logs at most one
// line a second, counting the failures it did not log. Pure (the caller passes the time); not
// thread-safe (the acceptor's strand owns it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

#include "common/clock.h"

namespace batchwise {

class AcceptBackoff {
 public:
  static constexpr Duration kFirstDelay = std::chrono::milliseconds(10);
  static constexpr Duration kMaxDelay = std::chrono::seconds(1);
  static constexpr Duration kLogInterval = std::chrono::seconds(1);

  struct Step {
    Duration delay;           // wait this long before accepting again
    bool log = false;         // log this failure
    uint64_t suppressed = 0;  // when logging: failures not logged since the previous line
  };

  Step OnError(TimePoint now) {
    delay_ = delay_ == Duration::zero() ? kFirstDelay : std::min(2 * delay_, kMaxDelay);
    Step step{delay_};
    if (last_log_ && now - *last_log_ < kLogInterval) {
      ++suppressed_;
      return step;
    }
    step.log = true;
    step.suppressed = suppressed_;
    suppressed_ = 0;
    last_log_ = now;
    return step;
  }

  void OnSuccess() { delay_ = Duration::zero(); }

 private:
  Duration delay_ = Duration::zero();
  std::optional<TimePoint> last_log_;
  uint64_t suppressed_ = 0;
};

}  // namespace batchwise
