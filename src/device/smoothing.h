// Ewma: a time-aware exponentially weighted moving average for irregularly spaced samples.
//
//   alpha = 1 - exp(-dt / tau),   s <- s + alpha * (x - s),   the first sample sets s = x,
//
// where dt is the actual time since the previous sample and tau the time constant. A sample after
// a long gap (a missed tick, a source that was unavailable) therefore counts for more, and the
// result does not depend on the sampling period: after a step the average covers 63 % of it in
// tau, 95 % in 3 tau. tau = 0 disables smoothing (s = x). A plain value: not synchronised.
#pragma once

#include "common/clock.h"

namespace batchwise {

class Ewma {
 public:
  explicit Ewma(Duration time_constant) : tau_(time_constant) {}

  // Folds in `x` observed at `t` and returns the new average. A sample at or before the previous
  // one's time gets weight 0 (the average is unchanged).
  double Add(double x, TimePoint t);

  bool empty() const { return empty_; }
  double value() const { return value_; }

  // The weight a sample `dt` after the previous one gets: 1 - exp(-dt / tau).
  static double Alpha(Duration dt, Duration time_constant);

 private:
  Duration tau_;
  bool empty_ = true;
  double value_ = 0;
  TimePoint last_;
};

}  // namespace batchwise
