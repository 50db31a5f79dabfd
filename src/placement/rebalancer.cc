#include "placement/rebalancer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace batchwise {
namespace {

std::string Fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

double Gap(const Rebalancer::Move& m) { return m.from_workload - m.to_workload; }

double BestGain(const Rebalancer::Move& m) {
  return m.helpful.empty() ? -1 : m.helpful.front().gain;
}

// Whether `a` is a better proposal than `b`: a helpful move with the larger gain, else the larger
// gap.
bool Better(const Rebalancer::Move& a, const Rebalancer::Move& b) {
  if (BestGain(a) != BestGain(b)) return BestGain(a) > BestGain(b);
  return Gap(a) > Gap(b);
}

}  // namespace

Result<Rebalancer> Rebalancer::Create(const Options& options, const WorkloadWeights& weights) {
  if (options.margin <= 0) return InvalidArgument("rebalance margin must be > 0");
  if (options.sustain.count() < 0 || options.cooldown.count() < 0) {
    return InvalidArgument("rebalance sustain and cooldown must be >= 0");
  }
  return Rebalancer(options, weights);
}

std::optional<Rebalancer::Move> Rebalancer::Observe(TimePoint now,
                                                     std::span<const WorkloadSample> samples) {
  std::map<std::pair<std::string, std::string>, TimePoint> still;
  std::optional<Move> best;
  for (const auto& hot : samples) {
    for (const auto& cold : samples) {
      if (hot.workload - cold.workload <= options_.margin) continue;
      auto key = std::make_pair(hot.processor_id, cold.processor_id);
      auto it = imbalanced_since_.find(key);
      TimePoint since = it == imbalanced_since_.end() ? now : it->second;
      still[key] = since;
      if (now - since < options_.sustain) continue;
      Move m = Propose(hot, cold, now - since);
      if (!best || Better(m, *best)) best = std::move(m);
    }
  }
  imbalanced_since_ = std::move(still);  // an imbalance that lapsed starts over
  if (!best || (quiet_until_ && now < *quiet_until_)) return std::nullopt;
  quiet_until_ = now + options_.cooldown;
  imbalanced_since_.clear();
  return best;
}

// The after-move rule of the header for one instance.
Rebalancer::Candidate Rebalancer::Evaluate(const WorkloadSample& hot, const WorkloadSample& cold,
                                           const InstanceLoad& instance) const {
  const double busy = std::clamp(instance.busy, 0.0, 1.0);
  const double scale =
      hot.performance > 0 && cold.performance > 0 ? hot.performance / cold.performance : 1.0;
  const double hot_u = std::clamp(hot.utilization, 0.0, 1.0);
  const double cold_u = std::clamp(cold.utilization, 0.0, 1.0);
  const double hot_after = hot_u - std::min(busy, hot_u);
  const double cold_after = std::min(1.0, cold_u + busy * scale);
  Candidate c;
  c.model = instance.model;
  c.busy = busy;
  c.from_workload_after = hot.workload + weights_.utilization * (hot_after - hot_u);
  c.to_workload_after = cold.workload + weights_.utilization * (cold_after - cold_u);
  c.gain = (hot.workload - cold.workload) - std::abs(c.from_workload_after - c.to_workload_after);
  return c;
}

Rebalancer::Move Rebalancer::Propose(const WorkloadSample& hot, const WorkloadSample& cold,
                                     Duration sustained) const {
  Move m;
  m.from = hot.processor_id;
  m.to = cold.processor_id;
  m.from_workload = hot.workload;
  m.to_workload = cold.workload;
  m.sustained = sustained;
  if (hot.instances.empty()) {
    m.detail = "no instance runs on " + hot.processor_id;
    return m;
  }
  std::vector<Candidate> all;
  for (const auto& i : hot.instances) all.push_back(Evaluate(hot, cold, i));
  std::stable_sort(all.begin(), all.end(),
                   [](const Candidate& a, const Candidate& b) { return a.gain > b.gain; });
  const Candidate& top = all.front();
  m.best = top;
  const std::string numbers = "after moving " + top.model + " (busy " + Fixed2(top.busy) + "), " +
                              m.to + " would be at " + Fixed2(top.to_workload_after) + " against " +
                              m.from + "'s " + Fixed2(top.from_workload_after) + ": the gap of " +
                              Fixed2(Gap(m)) + " shrinks by " + Fixed2(top.gain);
  if (top.gain < options_.margin) {
    m.detail = numbers + ", less than the margin " + Fixed2(options_.margin) + ": no gain";
    return m;
  }
  m.detail = numbers;
  for (auto& c : all) {
    if (c.gain >= options_.margin) m.helpful.push_back(std::move(c));
  }
  return m;
}

}  // namespace batchwise
