#include "loadgen/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace batchwise {

// Values below kSub map to themselves (exact); above, to (octave, top kSubBits bits below the
// leading one).
int LatencyHistogram::Index(uint64_t v) {
  if (v < kSub) return static_cast<int>(v);
  int msb = 63 - std::countl_zero(v);  // >= kSubBits
  int octave = msb - kSubBits + 1;
  int sub = static_cast<int>((v >> (msb - kSubBits)) & (kSub - 1));
  return octave * kSub + sub;
}

uint64_t LatencyHistogram::LowerBound(int index) {
  int octave = index / kSub, sub = index % kSub;
  if (octave == 0) return static_cast<uint64_t>(sub);
  int shift = octave - 1;
  return (static_cast<uint64_t>(kSub + sub)) << shift;
}

uint64_t LatencyHistogram::UpperBound(int index) {
  int octave = index / kSub;
  if (octave == 0) return LowerBound(index) + 1;
  return LowerBound(index) + (uint64_t{1} << (octave - 1));
}

void LatencyHistogram::Record(Duration d) {
  uint64_t v = static_cast<uint64_t>(std::max<int64_t>(0, d.count()));
  ++counts_[Index(v)];
  ++count_;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  sum_ += v;
}

void LatencyHistogram::Merge(const LatencyHistogram& o) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  sum_ += o.sum_;
}

Duration LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return Duration(0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * count_));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen < rank) continue;
    uint64_t lo = LowerBound(static_cast<int>(i)), hi = UpperBound(static_cast<int>(i));
    uint64_t mid = lo + (hi - lo) / 2;
    return Duration(static_cast<int64_t>(std::clamp(mid, min_, max_)));
  }
  return Duration(static_cast<int64_t>(max_));
}

}  // namespace batchwise
