#include "batching/latency_predictor.h"

#include <algorithm>
#include <utility>

namespace batchwise {
namespace {

Duration FromMillis(double ms) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

class PerfTablePredictor final : public LatencyPredictor {
 public:
  PerfTablePredictor(PerfTable table, int instances)
      : table_(std::move(table)), instances_(instances) {}

  Duration Predict(int batch_size) const override {
    const Result<double> ms = table_.LatencyMs(batch_size, instances_);
    return ms.ok() ? FromMillis(*ms) : Duration::zero();
  }
  void Observe(int, Duration) override {}

 private:
  const PerfTable table_;
  const int instances_;
};

class EwmaPredictor final : public LatencyPredictor {
 public:
  EwmaPredictor(int max_batch_size, double weight)
      : weight_(weight), ms_(static_cast<size_t>(max_batch_size) + 1, -1.0) {}

  Duration Predict(int batch_size) const override {
    const int b = std::clamp(batch_size, 1, static_cast<int>(ms_.size()) - 1);
    if (ms_[b] >= 0) return FromMillis(ms_[b]);
    const int lo = SeenBelow(b), hi = SeenAbove(b);
    if (lo == 0 && hi == 0) return Duration::zero();
    if (lo == 0) return FromMillis(ms_[hi]);
    if (hi == 0) return FromMillis(ms_[lo] * b / lo);
    const double f = static_cast<double>(b - lo) / (hi - lo);
    return FromMillis(ms_[lo] + f * (ms_[hi] - ms_[lo]));
  }

  void Observe(int batch_size, Duration latency) override {
    if (batch_size < 1 || batch_size >= static_cast<int>(ms_.size())) return;
    const double ms = std::chrono::duration<double, std::milli>(latency).count();
    double& e = ms_[batch_size];
    e = e < 0 ? ms : weight_ * ms + (1 - weight_) * e;
  }

 private:
  int SeenBelow(int b) const {
    for (int s = b - 1; s >= 1; --s) {
      if (ms_[s] >= 0) return s;
    }
    return 0;
  }
  int SeenAbove(int b) const {
    for (int s = b + 1; s < static_cast<int>(ms_.size()); ++s) {
      if (ms_[s] >= 0) return s;
    }
    return 0;
  }

  const double weight_;
  std::vector<double> ms_;  // per batch size; −1 = never seen
};

}  // namespace

std::unique_ptr<LatencyPredictor> NewPerfTablePredictor(PerfTable table, int instances) {
  return std::make_unique<PerfTablePredictor>(std::move(table), instances);
}

std::unique_ptr<LatencyPredictor> NewEwmaPredictor(int max_batch_size, double weight) {
  return std::make_unique<EwmaPredictor>(max_batch_size, weight);
}

}  // namespace batchwise
