// Scheduler: the inference scheduler (steps S3-S4, docs/design.md §1). Owns the loaded models,
// their instances and placements; routes each request to one of its model's instances; moves instances when load
// shifts (re-placement with hysteresis, no request lost).
//
// Loading a model = place it (least workload, placement/placer.h), create its instance on the
// chosen processor (engine with threads pinned to the processor's cores, or the simulated
// device), warm it up, start its batcher, then route to it. Unloading stops routing and drains
// in-flight work before anything is destroyed.
//
// Thread-safe: Infer() and the views from any thread, concurrently with LoadModel(),
// UnloadModel() and RebalanceOnce(), which are serialised among themselves. Owns the hardware
// monitor and the re-placement thread (a std::jthread started by Start(), joined by Stop() or the
// destructor). The Clock must outlive the scheduler.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "batching/batcher.h"
#include "common/clock.h"
#include "common/perf_table.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "device/monitor.h"
#include "device/processor.h"
#include "placement/placer.h"
#include "placement/processor_view.h"
#include "placement/rebalancer.h"
#include "repository/model_config.h"
#include "serving/engine_factory.h"
#include "serving/inference.h"
#include "serving/model_runtime.h"

namespace batchwise {

// The hardware a scheduler serves on. Processors are fixed for the scheduler's life.
struct SchedulerHardware {
  std::vector<Processor> processors;
  // Live state; null: no readings (every processor counts as idle, memory as declared).
  std::unique_ptr<HardwareMonitor> monitor;
  // Stored load-performance tables of the reference model, by processor id (profile/).
  std::map<std::string, PerfTable> profiles;
};

// Per-model load settings beyond its config.json.
struct LoadOptions {
  // Samples/s of the reference model this model is expected to bring. Until the monitor shows it,
  // rate / P_p of the chosen processor's utilisation is counted as taken (so loads in quick
  // succession do not all pick the same processor). 0: reserve nothing.
  double expected_rate_per_s = 0;
  // Footprint of one instance for placement, bytes, before an engine reports its own.
  // 0: twice the largest model file of the config (weights plus workspace, an estimate).
  uint64_t memory_bytes = 0;
  // Place on this processor instead of the least-workload one (benchmark baselines, operators).
  // Skips the workload choice and the instance limit; the engine and memory must still fit.
  std::string processor;
  // When a model of that name is loaded: false, ALREADY_EXISTS; true, replace it atomically (see
  // Scheduler::LoadModel).
  bool replace = false;
  // When every processor that can run the model is at its instance limit: false,
  // RESOURCE_EXHAUSTED; true, the least-workload one of them takes one instance more (a small
  // machine serving more models than it has cores). Startup and the repository's load set it
  // (ServerOptions::overcommit, `--no-overcommit`).
  bool overcommit = false;
};

// One re-placement the scheduler carried out or gave up on.
struct MoveRecord {
  TimePoint at{};
  std::string model;  // the instance moved or considered; empty when none was
  std::string from;
  std::string to;
  double from_workload = 0;
  double to_workload = 0;
  // The workloads the after-move rule estimated for moving `model` (placement/rebalancer.h).
  double from_workload_after = 0;
  double to_workload_after = 0;
  bool done = false;
  std::string detail;  // what happened, or why not
  nlohmann::json ToJson() const;
};

class Scheduler {
 public:
  struct Options {
    // Workload weights w_u, w_m, w_c (placement/placer.h has the defaults and their reasons).
    WorkloadWeights weights;
    // Hysteresis of re-placement: margin, sustain, cooldown (placement/rebalancer.h).
    Rebalancer::Options rebalance;
    // Where P and the instance limit come from when there is no profile.
    ProcessorViewOptions views;
    // Period of the re-placement loop started by Start(), milliseconds. 0: no loop (tests and
    // tools call RebalanceOnce()).
    int64_t rebalance_period_ms = 1000;
    // Batching of every model, before its config overrides: controller.max_batch_size becomes
    // the config's max_batch_size, latency_target_ms its latency target, and the config's
    // "batching" section (docs/model-repository.md) sets the policy and its options.
    BatcherOptions batching;
    // Batches of one random sample run on a new instance before it takes traffic.
    int warmup_batches = 2;
    // Placement decisions kept for queries.
    size_t decision_history = 256;
    // Re-placement records kept for queries.
    size_t move_history = 64;
  };

  static Result<std::unique_ptr<Scheduler>> Create(const Options& options, Clock& clock,
                                                   SchedulerHardware hardware,
                                                   EngineFactory engine_factory);
  // Stops the loop and unloads every model (draining each).
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the monitor's sampling and the re-placement loop. Stop() ends both.
  void Start();
  void Stop();

  // Places and loads `config`, returning once it is ready. ALREADY_EXISTS if a model of that name
  // is loaded, unless `load.replace`; RESOURCE_EXHAUSTED (with the decision's reason) when no
  // processor can take it. An engine that fails to load or warm up on the chosen processor is
  // tried on the next one (the failure excludes its processor, and the next decision record says
  // why); the last engine error when no processor is left.
  //
  // With `load.replace` on a loaded model (a reload): the new instance (new config, runtime and
  // batcher) is placed, with the old model's instances counted as gone, started and warmed
  // beside the old one; then the registry switches to it in one step, and the old instances
  // drain (requests that already reached them finish there) and are destroyed. No request is
  // refused in between. On any error the old model keeps serving, untouched. Statistics start
  // again with the new runtime.
  Status LoadModel(const ModelConfig& config, const LoadOptions& load = {});
  // Stops routing to the model, drains its in-flight requests, destroys its instances.
  Status UnloadModel(const std::string& model);

  // Validates and queues a request. On OK `done` is called exactly once later; on error it is
  // never called: NOT_FOUND (unknown model), INVALID_ARGUMENT (what was wrong with the inputs),
  // UNAVAILABLE (queue full: retry).
  Status Infer(InferRequest request, InferCallback done);

  // Whether Infer() would refuse a request of `batch_size` samples of `model` that began to arrive
  // at `received`, judged before the request's tensors are here (ModelRuntime::CheckAdmission):
  // OK, NOT_FOUND, FAILED_PRECONDITION (not ready) or UNAVAILABLE (full queue, or by time). A
  // refusal is counted as Infer()'s are; after an OK, Infer() decides again when the request comes.
  Status CheckAdmission(const std::string& model, int batch_size, TimePoint received) const;

  // One step of re-placement: feeds every processor's workload, and the busy share of each
  // instance there, to the Rebalancer; when it proposes a move that helps (its after-move rule,
  // placement/rebalancer.h), moves that instance from the hot processor to the cold one (start
  // and warm the new instance with the old one's batch controller state, switch traffic, drain
  // and destroy the old). Returns the record of the proposal — done, or why not (no move helps,
  // or none could be placed) — or nullopt when nothing was proposed.
  std::optional<MoveRecord> RebalanceOnce();

  // --- Views (CLI now, HTTP later) ---
  std::vector<std::string> ModelNames() const;
  // The configuration a loaded model was loaded with; NOT_FOUND if it is not loaded.
  // Whether `model` is loaded (no copy of its configuration: the inference path asks this).
  bool IsLoaded(const std::string& model) const { return Find(model) != nullptr; }
  Result<ModelConfig> LoadedConfig(const std::string& model) const;
  std::vector<InstanceInfo> Instances(const std::string& model = "") const;
  std::vector<PlacementDecision> Decisions(const std::string& model = "") const;
  std::vector<MoveRecord> Moves() const;
  // Every processor as placement sees it now, with its workload.
  std::vector<ProcessorView> ProcessorViews() const;
  // {"decisions": [...], "moves": [...], "instances": [...]}
  nlohmann::json PlacementsJson(const std::string& model = "") const;
  // [{"id", "kind", "simulated", "utilization", ..., "workload", "performance_source"}]
  nlohmann::json ProcessorsJson() const;
  // [{"name", "state", "processors", the model's batching options ("latency_target_ms",
  //   "required_throughput_per_s", "step_size", "trend_window", "trend_alpha",
  //   "reversal_confirmations", "max_queue_delay_us"), "batching": each instance's controller}]
  nlohmann::json ModelsJson() const;
  // {"model_stats": [...]} in the shape of Triton's statistics extension; NotFound if unknown.
  Result<nlohmann::json> StatsJson(const std::string& model = "") const;

  // Steps the re-placement loop has taken (RebalanceOnce() calls included).
  uint64_t rebalance_steps() const { return rebalance_steps_.load(std::memory_order_acquire); }

  HardwareMonitor* monitor() { return hardware_.monitor.get(); }
  const std::vector<Processor>& processors() const { return hardware_.processors; }

 private:
  Scheduler(const Options& options, Clock& clock, SchedulerHardware hardware,
            EngineFactory engine_factory, std::unique_ptr<Placer> placer, Rebalancer rebalancer);

  std::shared_ptr<ModelRuntime> Find(const std::string& model) const;
  // Find() and, when found, the runtime's Admit() taken under the registry's lock.
  std::shared_ptr<ModelRuntime> FindAdmitted(const std::string& model,
                                             std::shared_lock<std::shared_mutex>& admitted) const;
  // Every processor as placement sees it; `replaced` non-null: its instances' bookings counted as
  // free (it is going away).
  std::vector<ProcessorView> ViewsLocked(const ModelRuntime* replaced = nullptr) const
      REQUIRES(admin_mu_);
  Result<PlacementDecision> PlaceLocked(const ModelRuntime& model, const LoadOptions& load,
                                        const ModelRuntime* replaced,
                                        const std::map<std::string, std::string>& failed)
      REQUIRES(admin_mu_);
  ProcessorPerformance PerformanceFor(const Processor& p) const;
  const Processor* ProcessorById(const std::string& id) const;
  ModelRequirements RequirementsFor(const ModelRuntime& model) const;
  // `resume`: the controller state the new instance's batcher starts from (a move).
  Result<std::unique_ptr<ModelInstance>> StartInstanceLocked(
      ModelRuntime& model, const PlacementDecision& d,
      std::optional<ControllerState> resume = std::nullopt) REQUIRES(admin_mu_);
  Result<std::unique_ptr<Engine>> MakeEngineLocked(ModelRuntime& model, const Processor& p,
                                                   EngineKind engine) REQUIRES(admin_mu_);
  void RetireLocked(ModelRuntime& model, std::unique_ptr<ModelInstance> instance)
      REQUIRES(admin_mu_);
  MoveRecord MoveLocked(const Rebalancer::Move& move) REQUIRES(admin_mu_);
  bool TryMoveLocked(ModelRuntime& model, const Rebalancer::Move& move, MoveRecord& record)
      REQUIRES(admin_mu_);
  void RecordMove(const MoveRecord& record);
  void Loop(std::stop_token stop, TimePoint first_step);

  const Options options_;
  Clock& clock_;
  SchedulerHardware hardware_;
  const EngineFactory engine_factory_;
  std::unique_ptr<Placer> placer_;

  // Serialises load, unload and re-placement (each may block on a drain).
  mutable std::mutex admin_mu_;
  Rebalancer rebalancer_ GUARDED_BY(admin_mu_);
  std::map<std::string, Occupancy> occupancy_ GUARDED_BY(admin_mu_);
  std::map<std::string, std::shared_ptr<std::mutex>> device_locks_ GUARDED_BY(admin_mu_);

  // The model registry: read by every request, written by load and unload.
  mutable std::mutex models_mu_;
  std::map<std::string, std::shared_ptr<ModelRuntime>> models_ GUARDED_BY(models_mu_);

  std::atomic<uint64_t> rebalance_steps_{0};
  mutable std::mutex moves_mu_;
  std::vector<MoveRecord> moves_ GUARDED_BY(moves_mu_);

  std::mutex loop_mu_;  // pairs with loop_cv_ for the loop's sleeps
  std::condition_variable loop_cv_;
  std::jthread loop_;  // last: stopped before the rest is destroyed
};

}  // namespace batchwise
