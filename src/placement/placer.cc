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
  if (!m.allowed_kinds.empty() && !Contains(m.allowed_kinds, p.kind)) {
    return "model config does not allow processor kind '" + p.kind + "'";
  }
  if (engine.empty()) return "no engine for this model runs on this processor";
  if (p.instances >= p.max_instances) {
    return "already runs its profiled maximum of " + std::to_string(p.max_instances) +
           " instance(s)";
  }
  if (p.memory_free_bytes < m.memory_bytes) {
    return "free memory " + Bytes(p.memory_free_bytes) + " cannot hold " + Bytes(m.memory_bytes);
  }
  return "";
}

// Strict weak order: lower workload, then higher performance, then smaller id.
bool Better(const CandidateScore& a, const CandidateScore& b) {
  if (std::abs(a.workload - b.workload) > kTieEpsilon) return a.workload < b.workload;
  if (std::abs(a.performance - b.performance) > kTieEpsilon) return a.performance > b.performance;
  return a.processor_id < b.processor_id;
}

CandidateScore Score(const ModelRequirements& m, const ProcessorView& p, double max_perf,
                     const WorkloadWeights& w) {
  CandidateScore c;
  c.processor_id = p.id;
  c.utilization = std::max(p.utilization, p.reserved_utilization);
  c.memory_utilization = p.memory_utilization;
  c.performance = p.performance;
  c.workload = Workload(p, max_perf, w);
  c.engine = PickEngine(m, p);
  c.excluded = Exclusion(m, p, c.engine);
  return c;
}

std::string Explain(const CandidateScore& best, size_t eligible) {
  std::ostringstream s;
  s.precision(4);
  s << "least workload " << best.workload << " of " << eligible << " eligible processor(s)";
  return s.str();
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
    d.reason = Explain(*best, eligible);
  } else {
    d.reason = processors.empty() ? "no processors" : "no processor can take the model";
  }
  Record(d);
  return d;
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
