#include "placement/rebalancer.h"

namespace batchwise {

Result<Rebalancer> Rebalancer::Create(const Options& options) {
  if (options.margin <= 0) return InvalidArgument("rebalance margin must be > 0");
  if (options.sustain.count() < 0 || options.cooldown.count() < 0) {
    return InvalidArgument("rebalance sustain and cooldown must be >= 0");
  }
  return Rebalancer(options);
}

std::optional<Rebalancer::Move> Rebalancer::Observe(TimePoint now,
                                                     std::span<const WorkloadSample> samples) {
  std::map<std::pair<std::string, std::string>, TimePoint> still;
  std::optional<Move> best;
  for (const auto& hot : samples) {
    for (const auto& cold : samples) {
      double diff = hot.workload - cold.workload;
      if (diff <= options_.margin) continue;
      auto key = std::make_pair(hot.processor_id, cold.processor_id);
      auto it = imbalanced_since_.find(key);
      TimePoint since = it == imbalanced_since_.end() ? now : it->second;
      still[key] = since;
      if (now - since < options_.sustain) continue;
      if (!best || diff > best->from_workload - best->to_workload) {
        best = Move{hot.processor_id, cold.processor_id, hot.workload, cold.workload, now - since};
      }
    }
  }
  imbalanced_since_ = std::move(still);  // an imbalance that lapsed starts over
  if (!best || (quiet_until_ && now < *quiet_until_)) return std::nullopt;
  quiet_until_ = now + options_.cooldown;
  imbalanced_since_.clear();
  return best;
}

}  // namespace batchwise
