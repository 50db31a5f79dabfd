// Batcher: one request queue per model instance group; forms batches and runs them through a
// function it is given (docs/design.md §1, steps S4 and S407).
//
// When a batch leaves (one batch runs at a time: the thread runs it, so "idle" means the thread is
// waiting here):
//   aimd, trend:        as soon as the instance is idle and anything is queued, up to the
//                       controller's size. The size is a cap, never a wait: what queued while the
//                       previous batch ran is the batch. A batch never waits for arrivals that may
//                       not come (closed-loop clients cannot send more than they have in flight;
//                       a light load would wait out every budget), and under a heavier load the
//                       queue that builds while a batch runs makes the next batch larger by itself.
//                       The controller (batch_controller.h) adapts the cap to end-to-end latency.
//   fixed, queue_delay: when the queued samples reach the size, or when the oldest request has
//                       waited max_queue_delay_micros (0: at once). The baselines, as Triton does.
//
// Admission (Schedule): a task is refused (UNAVAILABLE, retryable) when the queue holds
// max_queue_size samples, or by time: when the queue is not empty and the time the task already
// took to arrive (BatchTask::received) plus its predicted completion — the batch in flight's
// remaining compute, then the queue ahead of it and the task in batches of the current size, each
// at the predicted compute latency — lies beyond the latency target. Overload is then answered at once instead of after a wait that would miss the target
// anyway, and the admitted requests' latency stays near it. A task that finds the queue empty is
// always admitted (a target below one batch's compute must not refuse everything).
//
// Thread-safe: any thread may Schedule(); one internal thread (owned, joined in the destructor)
// forms batches, runs the BatchFn and completes tasks, so callbacks arrive in completion order on
// that thread. The batcher knows nothing of engines, tensors or HTTP.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "batching/batch_controller.h"
#include "batching/latency_predictor.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace batchwise {

// One request queued for batching. Callers subclass it to carry their payload and output slots;
// the BatchFn, which knows the concrete type, reads the one and writes the other.
class BatchTask {
 public:
  virtual ~BatchTask() = default;
  // Samples in this task (its dim-0 size), in [1, max_batch_size].
  virtual int size() const = 0;
  // How long it may wait for dispatch, from Schedule(); zero: the batcher's default.
  virtual Duration timeout() const { return Duration::zero(); }
  // When the request began to arrive (its header was read), on the batcher's clock, if that was
  // before Schedule(); zero: at Schedule(). Its latency counts from here: admission by time, the
  // controller's end-to-end latency and queue_delay's wait include the time its body took.
  virtual TimePoint received() const { return TimePoint{}; }
  // Called exactly once, on the batcher's thread: OK after its batch ran (outputs written), the
  // BatchFn's error if its batch failed, DEADLINE_EXCEEDED if it waited past its timeout (it never
  // ran), UNAVAILABLE if the batcher shut down before running it.
  virtual void Done(Status status) = 0;
};

// A BatchTask with a payload of type T and a completion callback.
template <typename T>
class CallbackTask final : public BatchTask {
 public:
  using DoneFn = std::function<void(Status, T&)>;
  CallbackTask(T payload, int size, DoneFn done, Duration timeout = Duration::zero(),
               TimePoint received = TimePoint{})
      : payload_(std::move(payload)),
        size_(size),
        done_(std::move(done)),
        timeout_(timeout),
        received_(received) {}

  int size() const override { return size_; }
  Duration timeout() const override { return timeout_; }
  TimePoint received() const override { return received_; }
  void Done(Status status) override { done_(std::move(status), payload_); }
  T& payload() { return payload_; }

 private:
  T payload_;
  int size_;
  DoneFn done_;
  Duration timeout_;
  TimePoint received_;
};

// The tasks of one dispatched batch, oldest first. Owned by the batcher's thread while it runs.
class Batch {
 public:
  int size() const { return size_; }  // samples
  TimePoint oldest_enqueued() const { return oldest_enqueued_; }
  int num_tasks() const { return static_cast<int>(tasks_.size()); }
  BatchTask& task(int i) const { return *tasks_[i]; }
  // The task as the caller's concrete type (the caller knows what it scheduled).
  template <typename T>
  T& task_as(int i) const {
    return static_cast<T&>(*tasks_[i]);
  }

 private:
  friend class Batcher;
  std::vector<std::unique_ptr<BatchTask>> tasks_;
  int size_ = 0;
  TimePoint oldest_enqueued_{};
};

// Runs one batch (on one model instance). A non-OK status fails exactly this batch's tasks.
using BatchFn = std::function<Status(Batch& batch)>;

struct BatcherOptions {
  // Policy, size bounds, δ, latency target and the trend test: see ControllerOptions.
  // controller.max_batch_size is also the largest task the batcher accepts.
  ControllerOptions controller;
  // Samples that may wait; a task that does not fit is refused with UNAVAILABLE. >= max size.
  int max_queue_size = 1024;
  // fixed and queue_delay: how long the oldest request waits for a full batch; 0 = not at all.
  // aimd and trend never hold a batch while the instance is idle. Microseconds.
  int64_t max_queue_delay_micros = 5'000;
  // A request not dispatched this long after Schedule() completes with DEADLINE_EXCEEDED, unless
  // its task sets its own timeout. 0 = no default timeout. Microseconds.
  int64_t default_timeout_micros = 0;
  // Not configuration (no config key sets it): a controller's state to start from instead of
  // controller.initial_batch_size — a moved instance's batcher resumes its predecessor's
  // (CreateBatchController's `resume`). Empty: a fresh start.
  std::optional<ControllerState> resume_controller;

  Status Validate() const;
};

struct BatcherStats {
  int64_t accepted = 0;           // tasks taken by Schedule()
  int64_t rejected_full = 0;      // refused: queue full (max_queue_size)
  int64_t rejected_late = 0;      // refused: predicted to complete past the latency target
  int64_t timed_out = 0;          // tasks that waited past their timeout
  int64_t batches = 0;            // batches run
  int64_t failed_batches = 0;     // batches whose BatchFn failed
  int64_t completed_samples = 0;  // samples of successful batches
};

// A snapshot for the frontend and metrics.
struct BatcherState {
  ControllerState controller;
  int queued_samples = 0;
  int queued_tasks = 0;
  int in_flight_samples = 0;  // of the batch running now; 0 while the instance is idle
  BatcherStats stats;
};

class Batcher {
 public:
  // Validates `options` and starts the batching thread. `clock` must outlive the batcher.
  // `predictor` gives the compute time of a batch, for admission by time; null: a running EWMA.
  static Result<std::unique_ptr<Batcher>> Create(
      const BatcherOptions& options, Clock& clock, BatchFn batch_fn,
      std::unique_ptr<LatencyPredictor> predictor = nullptr);

  // Stops and joins the thread; a batch in flight finishes, tasks still queued complete with
  // UNAVAILABLE.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues *task and takes ownership of it, or returns an error and leaves *task untouched:
  // INVALID_ARGUMENT for a null task or a size outside [1, max_batch_size]; UNAVAILABLE
  // (retryable) when the queue is full or the batcher is stopping. Never blocks on the queue.
  Status Schedule(std::unique_ptr<BatchTask>* task);

  // What Schedule() would answer now for a task of `size` samples that began to arrive at
  // `received` (zero: now), without queueing anything or counting a refusal: OK, or the
  // UNAVAILABLE it would refuse with (full queue, by time, stopping). For refusing a request
  // before its body is read (an HTTP client waiting for "100 Continue"); Schedule() decides again
  // when the request comes.
  Status CheckAdmission(int size, TimePoint received) const;

  BatcherState State() const;

 private:
  struct Pending {
    std::unique_ptr<BatchTask> task;
    TimePoint enqueued;  // when it began to arrive (BatchTask::received), else Schedule()
    TimePoint deadline;  // TimePoint::max() without a timeout
  };
  // What the thread does next, taken under the lock and done outside it.
  struct Work {
    std::vector<std::unique_ptr<BatchTask>> expired;    // → DEADLINE_EXCEEDED
    std::vector<std::unique_ptr<BatchTask>> cancelled;  // → UNAVAILABLE (shutdown)
    std::optional<Batch> batch;
    bool stop = false;
  };

  Batcher(const BatcherOptions& options, Clock& clock, BatchFn batch_fn,
          std::unique_ptr<BatchController> controller, std::unique_ptr<LatencyPredictor> predictor);

  void Loop(std::stop_token stop);
  Work WaitForWork();
  void RunBatch(Batch& batch);
  void Learn(const Batch& batch, TimePoint start, bool ok);

  void TakeExpiredLocked(TimePoint now, Work& work) REQUIRES(mu_);
  bool ReadyLocked(TimePoint now) const REQUIRES(mu_);
  TimePoint DispatchTimeLocked() const REQUIRES(mu_);
  Duration PredictedCompletionLocked(TimePoint now, int samples) const REQUIRES(mu_);
  Status AdmissionLocked(TimePoint now, TimePoint arrived, int size) const REQUIRES(mu_);
  TimePoint NextWakeLocked(TimePoint now) const REQUIRES(mu_);
  Batch FormBatchLocked() REQUIRES(mu_);
  void CancelAllLocked(Work& work) REQUIRES(mu_);

  static void CompleteAll(std::vector<std::unique_ptr<BatchTask>>& tasks, const Status& status);

  const BatcherOptions opts_;
  Clock& clock_;
  const BatchFn batch_fn_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a task arrived that may complete a batch, or stop
  std::deque<Pending> queue_ GUARDED_BY(mu_);
  int queued_samples_ GUARDED_BY(mu_) = 0;
  TimePoint earliest_deadline_ GUARDED_BY(mu_) = TimePoint::max();  // a lower bound
  bool stopping_ GUARDED_BY(mu_) = false;
  int in_flight_samples_ GUARDED_BY(mu_) = 0;  // of the batch running now; 0 when idle
  TimePoint in_flight_since_ GUARDED_BY(mu_);
  BatcherStats stats_ GUARDED_BY(mu_);
  std::unique_ptr<BatchController> controller_ PT_GUARDED_BY(mu_);
  std::unique_ptr<LatencyPredictor> predictor_ PT_GUARDED_BY(mu_);

  std::jthread thread_;  // last: started after, and stopped before, everything above
};

}  // namespace batchwise
