#include "serving/busy_meter.h"

#include <algorithm>

namespace batchwise {

namespace {

Duration SlotWidth(Duration window, int slots) {
  if (window <= Duration::zero()) window = std::chrono::seconds(1);
  return std::max(window / slots, Duration(1));
}

}  // namespace

BusyMeter::BusyMeter(TimePoint origin, Duration window, int slots)
    : origin_(origin),
      width_(SlotWidth(window, std::max(slots, 1))),
      slots_(std::max(slots, 1)),
      busy_(slots_, Duration::zero()),
      slot_(slots_, -1) {}

void BusyMeter::Add(TimePoint start, TimePoint end) {
  start = std::max({start, origin_, end - width_ * slots_});  // older than a window: forgotten
  if (end <= start) return;
  std::lock_guard<std::mutex> l(mu_);
  for (int64_t k = SlotOf(start); k <= SlotOf(end); ++k) {
    const Duration overlap = std::min(end, SlotStart(k + 1)) - std::max(start, SlotStart(k));
    if (overlap <= Duration::zero()) continue;
    const size_t i = static_cast<size_t>(k % slots_);
    if (slot_[i] != k) {
      slot_[i] = k;
      busy_[i] = Duration::zero();
    }
    busy_[i] += overlap;
  }
}

double BusyMeter::BusyFraction(TimePoint now) const {
  if (now <= origin_) return 0;
  const int64_t last = SlotOf(now), first = std::max<int64_t>(0, last - slots_ + 1);
  const Duration covered = now - SlotStart(first);
  Duration busy{0};
  std::lock_guard<std::mutex> l(mu_);
  for (int i = 0; i < slots_; ++i) {
    if (slot_[i] >= first && slot_[i] <= last) busy += busy_[i];
  }
  return std::clamp(std::chrono::duration<double>(busy) / std::chrono::duration<double>(covered),
                    0.0, 1.0);
}

}  // namespace batchwise
