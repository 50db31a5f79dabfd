// Placement: the inference-workload score and the least-workload decision (docs/design.md S2-S3).
//
// Placement sees processors only through ProcessorView snapshots that the caller (serving/) builds
// from the live monitor and the profiles, so every decision is a pure function of its inputs and
// is recorded with the numbers behind it. Placer is thread-safe: Place() and Decisions() may be
// called from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace batchwise {

// What placement needs to know about one processor at the moment of a decision.
struct ProcessorView {
  std::string id;    // "cpu:0", "sim:a100"
  std::string kind;  // "cpu", "gpu", "npu"
  bool simulated = false;
  double utilization = 0;         // u_p in [0,1], smoothed live reading
  double memory_utilization = 0;  // m_p in [0,1]
  uint64_t memory_free_bytes = 0;
  double performance = 0;  // P_p: profiled processing performance, samples/s (0: unprofiled)
  int instances = 0;       // model instances running there now
  int max_instances = 1;   // profiled maximum number of inference services
  // [k-1]: samples/s the processor serves with k instances, from the same table as P (its
  // k-instance row's best; a 2-core partition: 12.9 with one instance, 25.8 with two). The
  // look-ahead scores the model against the capacity with one more instance. Empty: P for every
  // count (simulated processors with only P, the fallback).
  std::vector<double> capacity_per_s;
  // What sets max_instances, for reasons shown to operators ("its profile's maximum of useful
  // instances"); empty: "its limit".
  std::string max_instances_source;
  // Utilisation already promised to instances placed here but not yet visible in `utilization`
  // (sum of expected_rate / P over them). Workload uses max(utilization, reserved_utilization).
  double reserved_utilization = 0;
  std::vector<std::string> engines;  // engines that can run on it ("onnx", "torchscript", ...)
};

// What a model asks of a processor.
struct ModelRequirements {
  std::string name;
  uint64_t memory_bytes = 0;         // footprint of one instance
  std::vector<std::string> engines;  // engines the model has files for, in order of preference
  std::vector<std::string> allowed_kinds;  // processor kinds the config permits; empty: any
  std::vector<std::string> excluded_processors;  // processor ids never to use (e.g. its own)
  // Processors where the model's engine already failed to start, with the error: not chosen
  // again, and the decision record says why (Scheduler::LoadModel's fallback).
  std::map<std::string, std::string> failed_on;
  // Put before the decision's reason (e.g. why the choice overcommits a processor).
  std::string note;
  // Reference-model samples/s the model is expected to bring (LoadOptions::expected_rate_per_s).
  // When > 0 the choice looks one placement ahead (see Placer::Place); 0 scores each processor
  // as it is now.
  double expected_rate_per_s = 0;
};

// workload_p = w_u*u_p + w_m*m_p + w_c*(1 - P_p / max_q P_q)   (docs/design.md §1)
struct WorkloadWeights {
  double utilization = 0.5;  // w_u: how much current busyness repels new work
  double memory = 0.2;       // w_m: memory pressure
  double capability = 0.3;   // w_c: penalty for being slower than the fastest processor
};

// One processor's numbers in one decision.
struct CandidateScore {
  std::string processor_id;
  double utilization = 0;
  double memory_utilization = 0;
  double performance = 0;
  double workload = 0;
  std::string engine;    // the engine that would run the model there
  std::string excluded;  // empty when eligible; otherwise why not
  // Excluded only because it already runs its maximum of instances (overcommit may use it).
  bool at_instance_limit = false;
  // Look-ahead (the model has an expected rate). With W the work booked there (u * P) and C(n)
  // its capacity with n instances (ProcessorView::capacity_per_s; P without them), one more
  // instance makes it C(n+1):
  // whether the processor absorbs the rate (u after = (W + rate) / C(n+1) <= 1);
  bool fits = true;
  // reference-model samples/s it serves more with the model: min(C(n+1), W + rate) -
  // min(C(n), W); without per-count data min(rate, P * (1 - u)), its spare capacity;
  double gain_per_s = 0;
  // and the demand it leaves unserved there: W + rate - C(n+1) when it does not fit, else 0.
  double unserved_per_s = 0;
  bool eligible() const { return excluded.empty(); }
};

struct PlacementDecision {
  std::string model;
  TimePoint at;
  std::string chosen;  // processor id; empty when no candidate qualifies
  std::string engine;
  std::string reason;  // why this one, or why none
  double max_performance = 0;
  std::vector<CandidateScore> candidates;
  nlohmann::json ToJson() const;
};

// Where PlanPlacement put each model, and the decisions that put it there.
struct PlacementPlan {
  std::vector<std::string> chosen;           // per model, in the order given; "" when none fits
  std::vector<PlacementDecision> decisions;  // in placement order
};

// The workload score of one processor (no eligibility checks).
double Workload(const ProcessorView& p, double max_performance, const WorkloadWeights& w);

class Placer {
 public:
  struct Options {
    WorkloadWeights weights;
    // Decisions kept for queries (oldest dropped first).
    size_t history_size = 256;
  };

  // `clock` stamps decisions; not owned, must outlive the Placer.
  static Result<std::unique_ptr<Placer>> Create(const Options& options, Clock* clock);

  // Picks the least-workload eligible processor. Ties (within 1e-9) go to the higher performance,
  // then to the smaller id, so the same inputs always give the same answer. The decision is
  // recorded even when no processor qualifies (then `chosen` is empty and `reason` says why).
  // With `model.expected_rate_per_s` > 0 the choice looks one placement ahead: each processor is
  // scored as it would be with the model's rate booked on top of its work, against its capacity
  // with one more instance (CandidateScore::fits). The one whose served samples/s grow most wins
  // (gain_per_s: the whole rate where it fits; where none fits, the most spare capacity), then the
  // one leaving least demand unserved, then least workload after. Without per-count capacities
  // that is: processors that absorb the rate first, least workload after among them; when none
  // can, the most spare samples/s, P * (1 - u).
  PlacementDecision Place(const ModelRequirements& model, std::span<const ProcessorView> processors);

  // Places several models at once (a fleet-level pass): the largest expected rate first (ties keep
  // the given order), each by Place() with its look-ahead, and each choice booked on the views the
  // way the scheduler books an instance (one more instance, rate / P more reserved utilisation, its
  // footprint off the free memory) before the next model is placed. Every decision is recorded.
  PlacementPlan PlanPlacement(std::span<const ModelRequirements> models,
                              std::vector<ProcessorView> processors);

  // Recorded decisions, oldest first; `model` empty for all.
  std::vector<PlacementDecision> Decisions(const std::string& model = "") const;

  const Options& options() const { return options_; }

 private:
  Placer(const Options& options, Clock* clock) : options_(options), clock_(clock) {}
  void Record(const PlacementDecision& d);

  const Options options_;
  Clock* const clock_;
  mutable std::mutex mu_;
  std::deque<PlacementDecision> history_;  // GUARDED_BY(mu_)
};

}  // namespace batchwise
