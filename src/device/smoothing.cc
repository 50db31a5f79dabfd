#include "device/smoothing.h"

#include <cmath>

namespace batchwise {

double Ewma::Alpha(Duration dt, Duration time_constant) {
  if (time_constant <= Duration::zero()) return 1.0;
  if (dt <= Duration::zero()) return 0.0;
  return 1.0 - std::exp(-double(dt.count()) / double(time_constant.count()));
}

double Ewma::Add(double x, TimePoint t) {
  if (empty_) {
    value_ = x;
  } else {
    value_ += Alpha(t - last_, tau_) * (x - value_);
  }
  if (empty_ || t > last_) last_ = t;
  empty_ = false;
  return value_;
}

}  // namespace batchwise
