#include "placement/placer.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

namespace batchwise {
namespace {

constexpr double kTieEpsilon = 1e-9;

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string Bytes(uint64_t b) {
  std::ostringstream s;
  s.precision(3);
  s << static_cast<double>(b) / (1 << 20) << " MiB";
  return s.str();
}

// The first engine of the model's preference list that the processor runs; empty if none.
std::string PickEngine(const ModelRequirements& m, const ProcessorView& p) {
  for (const auto& e : m.engines) {
    if (Contains(p.engines, e)) return e;
  }
  return "";
}

// Why `p` cannot take `m`, or "" when it can.
std::string Exclusion(const ModelRequirements& m, const ProcessorView& p, const std::string& engine) {
  if (Contains(m.excluded_processors, p.id)) return "excluded for this model";
  if (auto f = m.failed_on.find(p.id); f != m.failed_on.end()) {
    return "the engine failed to start here: " + f->second;
  }
  if (!m.allowed_kinds.empty() && !Contains(m.allowed_kinds, p.kind)) {
    return "model config does not allow processor kind '" + p.kind + "'";
  }
  if (engine.empty()) return "no engine for this model runs on this processor";
  if (p.instances >= p.max_instances) {
    return "already runs " + std::to_string(p.instances) + " instance(s), " +
           (p.max_instances_source.empty() ? "its limit" : p.max_instances_source);
  }
  if (p.memory_free_bytes < m.memory_bytes) {
    return "free memory " + Bytes(p.memory_free_bytes) + " cannot hold " + Bytes(m.memory_bytes);
  }
  return "";
}

// Strict weak order: more samples/s served with the model, then less demand left unserved, then
// lower workload, then higher performance, then smaller id. Without a rate only the last three.
bool Better(const CandidateScore& a, const CandidateScore& b) {
  if (std::abs(a.gain_per_s - b.gain_per_s) > kTieEpsilon) return a.gain_per_s > b.gain_per_s;
  if (std::abs(a.unserved_per_s - b.unserved_per_s) > kTieEpsilon) {
    return a.unserved_per_s < b.unserved_per_s;
  }
  if (std::abs(a.workload - b.workload) > kTieEpsilon) return a.workload < b.workload;
  if (std::abs(a.performance - b.performance) > kTieEpsilon) return a.performance > b.performance;
  return a.processor_id < b.processor_id;
}

// C(n): samples/s `p` serves with `instances` instances (at least one); P without per-count data.
double CapacityWith(const ProcessorView& p, int instances) {
  if (p.capacity_per_s.empty()) return p.performance;
  const int k = std::clamp(instances, 1, static_cast<int>(p.capacity_per_s.size()));
  return p.capacity_per_s[k - 1];
}

// `p` as it would be with `m` on it, for the look-ahead: the work there now (u * P) plus the
// model's expected rate, over the capacity with one more instance. Without per-count data that is
// u + rate / P. Unchanged when the model brings no rate or the capacity is unknown.
ProcessorView WithModel(const ProcessorView& p, const ModelRequirements& m) {
  ProcessorView after = p;
  const double capacity = CapacityWith(p, p.instances + 1);
  if (m.expected_rate_per_s > 0 && capacity > 0) {
    after.reserved_utilization =
        std::max(p.utilization, p.reserved_utilization) * (p.performance / capacity) +
        m.expected_rate_per_s / capacity;
  }
  return after;
}

// CandidateScore::gain_per_s and unserved_per_s of `c` (its `fits` set) for `m` on `p`.
void ScoreServed(const ModelRequirements& m, const ProcessorView& p, CandidateScore& c) {
  const double rate = m.expected_rate_per_s;
  if (rate <= 0) return;
  const double work = std::max({p.utilization, p.reserved_utilization, 0.0}) * p.performance;
  const double now = CapacityWith(p, p.instances);
  const double after = CapacityWith(p, p.instances + 1);
  if (c.fits) {
    c.gain_per_s = rate + std::max(0.0, work - now);
  } else {
    c.gain_per_s = std::max(0.0, after - std::min(now, work));
    c.unserved_per_s = work + rate - after;
  }
}

// The utilisation and workload recorded are those the choice used (after the model, with a rate).
CandidateScore Score(const ModelRequirements& m, const ProcessorView& p, double max_perf,
                     const WorkloadWeights& w) {
  const ProcessorView after = WithModel(p, m);
  CandidateScore c;
  c.processor_id = p.id;
  c.utilization = std::max(after.utilization, after.reserved_utilization);
  c.memory_utilization = p.memory_utilization;
  c.performance = p.performance;
  c.workload = Workload(after, max_perf, w);
  c.fits = m.expected_rate_per_s <= 0 || c.utilization <= 1 + kTieEpsilon;
  ScoreServed(m, p, c);
  c.engine = PickEngine(m, p);
  c.excluded = Exclusion(m, p, c.engine);
  if (!c.excluded.empty() && p.instances >= p.max_instances) {
    ProcessorView lifted = p;
    lifted.max_instances = p.instances + 1;
    c.at_instance_limit = Exclusion(m, lifted, c.engine).empty();
  }
  return c;
}

std::string Explain(const CandidateScore& best, size_t eligible, double rate) {
  std::ostringstream s;
  s.precision(4);
  if (best.gain_per_s > rate + kTieEpsilon) {
    s << "one more instance here serves the most: " << best.gain_per_s << " samples/s more, "
      << rate << " of them its expected rate, the rest demand already booked here";
  } else if (!best.fits) {
    s << "no processor can absorb its expected " << rate << " samples/s; most spare ("
      << best.gain_per_s << " samples/s)";
  } else {
    s << "least workload " << best.workload;
    if (rate > 0) s << " after booking its expected " << rate << " samples/s";
  }
  s << " of " << eligible << " eligible processor(s)";
  return s.str();
}

// What the scheduler books when it starts an instance of `m` on `p`.
void Book(ProcessorView& p, const ModelRequirements& m) {
  ++p.instances;
  if (p.performance > 0) p.reserved_utilization += m.expected_rate_per_s / p.performance;
  if (p.memory_utilization < 1) {
    const double total = static_cast<double>(p.memory_free_bytes) / (1 - p.memory_utilization);
    p.memory_utilization += total > 0 ? static_cast<double>(m.memory_bytes) / total : 0;
  }
  p.memory_free_bytes -= std::min(p.memory_free_bytes, m.memory_bytes);
}

}  // namespace

double Workload(const ProcessorView& p, double max_performance, const WorkloadWeights& w) {
  double u = std::clamp(std::max(p.utilization, p.reserved_utilization), 0.0, 1.0);
  double m = std::clamp(p.memory_utilization, 0.0, 1.0);
  double slowness = max_performance > 0 ? 1.0 - p.performance / max_performance : 0.0;
  return w.utilization * u + w.memory * m + w.capability * std::clamp(slowness, 0.0, 1.0);
}

nlohmann::json PlacementDecision::ToJson() const {
  nlohmann::json cands = nlohmann::json::array();
  for (const auto& c : candidates) {
    cands.push_back({{"processor", c.processor_id},
                     {"utilization", c.utilization},
                     {"memory_utilization", c.memory_utilization},
                     {"performance", c.performance},
                     {"workload", c.workload},
                     {"engine", c.engine},
                     {"eligible", c.eligible()},
                     {"excluded", c.excluded}});
  }
  return {{"model", model},
          {"at_ns", at.time_since_epoch().count()},
          {"chosen", chosen},
          {"engine", engine},
          {"reason", reason},
          {"max_performance", max_performance},
          {"candidates", cands}};
}

Result<std::unique_ptr<Placer>> Placer::Create(const Options& options, Clock* clock) {
  const auto& w = options.weights;
  if (w.utilization < 0 || w.memory < 0 || w.capability < 0) {
    return InvalidArgument("placement weights must be >= 0");
  }
  if (w.utilization + w.memory + w.capability <= 0) {
    return InvalidArgument("at least one placement weight must be > 0");
  }
  if (clock == nullptr) return InvalidArgument("placer needs a clock");
  return std::unique_ptr<Placer>(new Placer(options, clock));
}

PlacementDecision Placer::Place(const ModelRequirements& model,
                                std::span<const ProcessorView> processors) {
  PlacementDecision d;
  d.model = model.name;
  d.at = clock_->Now();
  for (const auto& p : processors) d.max_performance = std::max(d.max_performance, p.performance);
  const CandidateScore* best = nullptr;
  size_t eligible = 0;
  d.candidates.reserve(processors.size());
  for (const auto& p : processors) {
    d.candidates.push_back(Score(model, p, d.max_performance, options_.weights));
  }
  for (const auto& c : d.candidates) {
    if (!c.eligible()) continue;
    ++eligible;
    if (best == nullptr || Better(c, *best)) best = &c;
  }
  if (best != nullptr) {
    d.chosen = best->processor_id;
    d.engine = best->engine;
    d.reason = Explain(*best, eligible, model.expected_rate_per_s);
    if (!model.note.empty()) d.reason = model.note + "; " + d.reason;
  } else {
    d.reason = processors.empty() ? "no processors" : "no processor can take the model";
  }
  Record(d);
  return d;
}

PlacementPlan Placer::PlanPlacement(std::span<const ModelRequirements> models,
                                    std::vector<ProcessorView> processors) {
  std::vector<size_t> order(models.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return models[a].expected_rate_per_s > models[b].expected_rate_per_s;
  });
  PlacementPlan plan;
  plan.chosen.resize(models.size());
  for (size_t i : order) {
    plan.decisions.push_back(Place(models[i], processors));
    plan.chosen[i] = plan.decisions.back().chosen;
    for (auto& p : processors) {
      if (p.id == plan.chosen[i]) Book(p, models[i]);
    }
  }
  return plan;
}

std::vector<PlacementDecision> Placer::Decisions(const std::string& model) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<PlacementDecision> out;
  for (const auto& d : history_) {
    if (model.empty() || d.model == model) out.push_back(d);
  }
  return out;
}

void Placer::Record(const PlacementDecision& d) {
  std::lock_guard<std::mutex> l(mu_);
  history_.push_back(d);
  while (history_.size() > options_.history_size) history_.pop_front();
}

}  // namespace batchwise
