// BusyMeter: the fraction of wall time a model instance spent running batches over a recent
// window — its share of its processor, which re-placement subtracts from the processor it would
// leave and adds to the one it would go to (placement/rebalancer.h, docs/placement.md).
//
// Time is cut into `slots` equal slots of window / slots; a busy interval adds its overlap to each
// slot it spans. BusyFraction(now) is the busy time in the slots of the last window (the current,
// partly elapsed slot included) over the wall time they cover, or over the time since the meter
// was made when that is shorter. A batch counts when it ends, so a batch still running is missing
// until then (at most one batch's time). Memory is fixed: two arrays of `slots`.
//
// Thread-safe: the batcher's thread adds, the scheduler reads.
#pragma once

#include <mutex>
#include <vector>

#include "common/clock.h"
#include "common/thread_annotations.h"

namespace batchwise {

class BusyMeter {
 public:
  // `window` > 0 and `slots` >= 1 (checked by the owner; a zero window counts as one second).
  BusyMeter(TimePoint origin, Duration window, int slots = 20);

  // The instance was busy from `start` to `end` (a batch's compute).
  void Add(TimePoint start, TimePoint end);
  // Busy share of the last window at `now`, in [0, 1]; 0 before any time has passed.
  double BusyFraction(TimePoint now) const;

 private:
  int64_t SlotOf(TimePoint t) const { return (t - origin_) / width_; }
  TimePoint SlotStart(int64_t k) const { return origin_ + k * width_; }

  const TimePoint origin_;
  const Duration width_;
  const int slots_;
  mutable std::mutex mu_;
  std::vector<Duration> busy_ GUARDED_BY(mu_);  // per slot, indexed k % slots
  std::vector<int64_t> slot_ GUARDED_BY(mu_);   // which slot k each entry holds; -1: none
};

}  // namespace batchwise
