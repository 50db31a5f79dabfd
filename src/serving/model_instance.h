// ModelInstance: one loaded copy of a model on one processor — its engine (weights, threads pinned
// to the processor's cores) and the Batcher that feeds it (docs/design.md S3-S4, the "container").
//
// Thread-safe: Submit() from any thread; the batcher's thread runs batches and completes
// requests. Drain() blocks until every accepted request has completed; the owner calls it before
// destroying the instance, so destruction never cancels accepted work.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/engine.h"
#include "batching/batcher.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "serving/busy_meter.h"
#include "serving/inference.h"
#include "serving/model_stats.h"

namespace batchwise {

// An accepted request on its way through a batch.
struct QueuedRequest {
  std::string model;
  int64_t model_version = 1;  // ModelConfig::version
  std::string id;
  std::vector<Tensor> inputs;       // one per declared input, in declared order
  std::vector<int> output_indices;  // declared outputs to return, in the order asked for
  std::vector<std::string> output_names;
  InferCallback done;
  Duration timeout{0};  // queue wait allowed; zero: the batcher's default
  TimePoint received{};  // InferRequest::received
  TimePoint accepted{};
  TimePoint dispatched{};
  std::vector<Tensor> outputs;  // every declared output, written by the batch
};

class ModelInstance {
 public:
  struct Options {
    std::string model;
    std::string processor_id;
    BatcherOptions batching;
    // Batches of one random sample run through the engine before the instance takes traffic.
    int warmup_batches = 2;
    // Window of busy_fraction(): how far back the instance's batch time counts (> 0).
    Duration busy_window = std::chrono::seconds(10);
  };

  // Warms `engine` up, then starts the batcher. `stats` (shared by the model's instances) and
  // `clock` must outlive the instance.
  static Result<std::unique_ptr<ModelInstance>> Create(const Options& options,
                                                       std::unique_ptr<Engine> engine,
                                                       ModelStats* stats, Clock& clock);
  ~ModelInstance();

  // Queues the request; on success its `done` is called exactly once later. On error (queue
  // full: UNAVAILABLE; draining: UNAVAILABLE) `done` is not called and `request` is untouched.
  Status Submit(std::unique_ptr<QueuedRequest>* request, int batch_size);

  // What Submit() would answer now for a request of `batch_size` samples that began to arrive at
  // `received`, without queueing it (Batcher::CheckAdmission).
  Status CheckAdmission(int batch_size, TimePoint received) const;

  // Refuses new requests and blocks until every accepted one has completed.
  void Drain();

  // Samples accepted and not yet completed: the routing load signal.
  int in_flight_samples() const { return in_flight_samples_.load(std::memory_order_relaxed); }
  int64_t completed_requests() const { return completed_.load(std::memory_order_relaxed); }
  const std::string& processor_id() const { return options_.processor_id; }
  const Engine& engine() const { return *engine_; }
  BatcherState batcher_state() const { return batcher_->State(); }
  // Share of the last busy_window (or of its life, if shorter) its batches were running: the
  // compute time of every batch, failed ones included, from dispatch to the BatchFn's return
  // (BusyMeter). On a processor it has to itself this is its part of the processor's utilisation.
  double busy_fraction() const { return busy_.BusyFraction(clock_.Now()); }

 private:
  ModelInstance(const Options& options, std::unique_ptr<Engine> engine, ModelStats* stats,
                Clock& clock);
  Status Warmup();
  // RunBatch, its time counted as busy.
  Status TimedBatch(Batch& batch);
  Status RunBatch(Batch& batch);
  Status RunEngine(Batch& batch, std::vector<Tensor>& outputs, Duration& input, Duration& infer);
  Status SplitOutputs(Batch& batch, const std::vector<Tensor>& outputs);
  void Complete(Status status, QueuedRequest& request, int batch_size);
  InferResponse MakeResponse(QueuedRequest& request) const;

  const Options options_;
  std::unique_ptr<Engine> engine_;
  ModelStats* const stats_;
  Clock& clock_;

  BusyMeter busy_;
  std::atomic<int> in_flight_samples_{0};
  std::atomic<int64_t> completed_{0};
  mutable std::mutex mu_;
  std::condition_variable drained_;
  int in_flight_requests_ GUARDED_BY(mu_) = 0;
  bool draining_ GUARDED_BY(mu_) = false;

  std::unique_ptr<Batcher> batcher_;  // last: stopped before the engine goes
};

}  // namespace batchwise
