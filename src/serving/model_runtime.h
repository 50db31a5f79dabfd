// ModelRuntime: one loaded model inside the scheduler — its config, batching options, stats and
// the instances requests are routed to.
//
// Thread-safe: Route() from request threads runs under the same lock as Add()/Replace()/TakeAll(),
// so a request is either queued on an instance before it leaves routing (and that instance's drain
// waits for it) or it sees the new set. The scheduler owns runtimes through shared_ptr because a
// request in flight through Infer() holds one while the model may be unloaded or replaced; it
// holds Admit() from finding the runtime until Route() returns, and TakeAll() waits for every
// admitted request, so a request that found a runtime before it left the registry is routed to
// one of its instances rather than refused.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "batching/batcher.h"
#include "common/thread_annotations.h"
#include "repository/model_config.h"
#include "serving/inference.h"
#include "serving/model_instance.h"
#include "serving/model_stats.h"

namespace batchwise {

// Where one instance runs.
struct InstanceInfo {
  std::string model;
  std::string processor;
  std::string engine;  // Engine::Describe()
  bool simulated = false;
  int in_flight_samples = 0;
  int64_t completed_requests = 0;
  double busy_fraction = 0;  // ModelInstance::busy_fraction()
};

// The batcher options of `config`: `defaults` with the model's max batch size and latency target,
// then its "batching" section (policy, max_queue_delay_micros, max_queue_size, batch_size,
// initial_batch_size, min_batch_size, step_size, required_throughput_per_s, trend_window,
// trend_alpha, reversal_confirmations, default_timeout_micros; docs/model-repository.md).
// INVALID_ARGUMENT naming the key for an unknown key or a value of the wrong type or range.
Result<BatcherOptions> ModelBatchingOptions(const ModelConfig& config,
                                            const BatcherOptions& defaults);

// A validated request: inputs in declared order, its batch size.
struct PreparedRequest {
  std::unique_ptr<QueuedRequest> request;
  int batch_size = 0;
};

// Checks `request` against `config` (every declared input exactly once, no unknown ones, dtype,
// shape, one batch size in [1, max_batch_size], byte sizes, known requested outputs).
//
// For a model with a "preprocess" section, its image input may also come as UINT8 [N,H,W,3]
// pixels or BYTES [N] JPEG/PNG files: they are decoded, resized and normalised here, on the
// calling thread (serving/preprocess.h). Here rather than on the batching thread because (1) a bad
// image is then an INVALID_ARGUMENT from Scheduler::Infer(), before the request is accepted, like
// every other malformed input; (2) decoding runs in parallel on the callers' threads instead of
// serialising on the instance's one batching thread, where it would also count as batch latency
// and mislead the batch controller; (3) it never runs on an engine's pinned worker. A request
// for the "postprocess" output selects its source and wraps `done` (serving/postprocess.h).
Result<PreparedRequest> PrepareRequest(const ModelConfig& config, InferRequest request,
                                       InferCallback done);

class ModelRuntime {
 public:
  ModelRuntime(ModelConfig config, double expected_rate_per_s, uint64_t memory_estimate_bytes,
               BatcherOptions batching);

  const ModelConfig& config() const { return config_; }
  const BatcherOptions& batching() const { return batching_; }
  double expected_rate_per_s() const { return expected_rate_per_s_; }
  uint64_t memory_estimate_bytes() const { return memory_estimate_bytes_; }
  ModelStats& stats() { return stats_; }
  const ModelStats& stats() const { return stats_; }

  // Queues on the instance with the fewest samples in flight; FAILED_PRECONDITION if none. A
  // refusal counts in stats() as a rejected request.
  Status Route(std::unique_ptr<QueuedRequest>* request, int batch_size);
  // What Route() would answer now for a request of `batch_size` samples that began to arrive at
  // `received` (ModelInstance::CheckAdmission of the instance it would pick), without queueing
  // it. A refusal counts in stats() as a rejected request, as Route()'s: the caller answers it.
  Status CheckAdmission(int batch_size, TimePoint received);

  void Add(std::unique_ptr<ModelInstance> instance);
  // Puts `fresh` in place of the first instance on `processor_id` and returns that one (no
  // longer routed to; the caller drains it). Null if there is none.
  std::unique_ptr<ModelInstance> Replace(const std::string& processor_id,
                                         std::unique_ptr<ModelInstance> fresh);
  // Waits until every admitted request is routed, then takes every instance (a request admitted
  // later finds none: FAILED_PRECONDITION). The caller drains them.
  std::vector<std::unique_ptr<ModelInstance>> TakeAll();

  // Admits one request: hold it from finding this runtime (under the registry's lock) until
  // Route() returns.
  std::shared_lock<std::shared_mutex> Admit() const {
    return std::shared_lock<std::shared_mutex>(admission_mu_);
  }

  std::vector<std::string> ProcessorIds() const;
  std::vector<InstanceInfo> Infos() const;
  std::vector<BatcherState> BatcherStates() const;
  // The controller of the instance Replace(processor_id, ...) would replace; empty if none.
  std::optional<ControllerState> ControllerOn(const std::string& processor_id) const;

 private:
  const ModelConfig config_;
  const double expected_rate_per_s_;
  const uint64_t memory_estimate_bytes_;
  const BatcherOptions batching_;
  ModelStats stats_;

  Status RouteToLeastLoaded(std::unique_ptr<QueuedRequest>* request, int batch_size);
  // The instance with the fewest samples in flight; null when there is none.
  ModelInstance* LeastLoadedLocked() const REQUIRES(mu_);

  // Shared by admitted requests, exclusive in TakeAll(); taken before mu_.
  mutable std::shared_mutex admission_mu_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<ModelInstance>> instances_ GUARDED_BY(mu_);
};

}  // namespace batchwise
