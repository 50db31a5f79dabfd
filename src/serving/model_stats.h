// ModelStats: per-model counters in the shape of Triton's statistics extension (success, fail,
// queue, compute_input, compute_infer, compute_output as count + ns; inference and execution
// counts; per-batch-size compute stats).
//
// Beside Triton's fields, failures are also counted by reason (Triton's metrics label them so):
// REJECTED (refused at admission, or expired in the queue) and BACKEND (the batch failed).
//
// Thread-safe and cheap: every counter is a relaxed atomic, updated on the batching threads;
// ToJson() reads them without a lock (a snapshot may mix counts from adjacent requests).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/clock.h"

namespace batchwise {

// One "count + total nanoseconds" pair.
class DurationStat {
 public:
  void Add(Duration d, int64_t count = 1) {
    count_.fetch_add(count, std::memory_order_relaxed);
    ns_.fetch_add(d.count(), std::memory_order_relaxed);
  }
  int64_t count() const { return count_.load(std::memory_order_relaxed); }
  int64_t ns() const { return ns_.load(std::memory_order_relaxed); }
  nlohmann::json ToJson() const;

 private:
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> ns_{0};
};

struct BatchSizeStats {
  DurationStat compute_input;
  DurationStat compute_infer;
  DurationStat compute_output;
};

class ModelStats {
 public:
  explicit ModelStats(int max_batch_size);

  // Per request (Triton counts request-level durations once per request).
  DurationStat success;  // request end-to-end, from acceptance to completion
  DurationStat fail;
  DurationStat queue;  // acceptance to dispatch of its batch, successful requests only
  // Each request of a batch counts its batch's whole duration (as Triton does), so ns / count is
  // the mean time a request spent in that phase.
  DurationStat compute_input;
  DurationStat compute_infer;
  DurationStat compute_output;

  // Failures by reason: a request the model's queue refused (full, too late, draining, no
  // instance), and one that failed after acceptance (`expired`: it waited past its timeout).
  void RecordRejected() { rejected_.fetch_add(1, std::memory_order_relaxed); }
  void RecordFailure(Duration since_accepted, bool expired);
  int64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }

  // Once per executed batch of `batch_size` samples (1..max_batch_size) and its `requests`.
  void RecordBatch(int batch_size, Duration input, Duration infer, Duration output);
  // `samples` more inferences completed at `now_ms` (wall clock, ms since the Unix epoch).
  void RecordInferences(int64_t samples, int64_t now_ms);

  int64_t inference_count() const { return inference_count_.load(std::memory_order_relaxed); }
  int64_t execution_count() const { return execution_count_.load(std::memory_order_relaxed); }

  // {"name", "version", "last_inference", "inference_count", "execution_count",
  //  "inference_stats": {...}, "batch_stats": [{"batch_size", "compute_input", ...}],
  //  "failure_reasons": {"REJECTED": n, "BACKEND": n}}; only batch sizes that ran are listed.
  //  "failure_reasons" is Batchwise's: Triton's statistics have no such field.
  nlohmann::json ToJson(const std::string& name, int64_t version) const;

 private:
  std::atomic<int64_t> inference_count_{0};
  std::atomic<int64_t> execution_count_{0};
  std::atomic<int64_t> last_inference_ms_{0};
  std::atomic<int64_t> rejected_{0};  // refused at admission or expired in the queue
  std::atomic<int64_t> backend_failures_{0};
  std::vector<std::unique_ptr<BatchSizeStats>> by_size_;  // index = batch size; fixed at creation
};

}  // namespace batchwise
