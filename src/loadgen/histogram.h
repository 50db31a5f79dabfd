// LatencyHistogram: HDR-style log-linear histogram of durations with bounded memory.
//
// Values (nanoseconds, 1 ns .. ~146 years) fall into 64 sub-buckets per power of two, so any
// reported percentile is within 1/64 (1.6 %) of the true value whatever the number of samples,
// and memory is fixed (64 x 64 counters). Not synchronised: one writer, or Merge() per-thread
// copies.
#pragma once

#include <array>
#include <cstdint>

#include "common/clock.h"

namespace batchwise {

class LatencyHistogram {
 public:
  void Record(Duration d);
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  Duration min() const { return Duration(count_ ? min_ : 0); }
  Duration max() const { return Duration(max_); }
  Duration mean() const { return Duration(count_ ? static_cast<int64_t>(sum_ / count_) : 0); }
  // The value at percentile `p` (0..100), nearest rank, reported as its bucket's midpoint (exact
  // for the minimum and maximum). Zero when empty.
  Duration Percentile(double p) const;

 private:
  static constexpr int kSubBits = 6;  // 64 sub-buckets per octave
  static constexpr int kSub = 1 << kSubBits;
  static int Index(uint64_t v);
  static uint64_t LowerBound(int index);
  static uint64_t UpperBound(int index);  // exclusive

  std::array<uint64_t, 64 * kSub> counts_{};
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace batchwise
