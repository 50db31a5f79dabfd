#include "batching/batcher.h"

#include <algorithm>

namespace batchwise {
namespace {

constexpr Duration kIdleWait = std::chrono::hours(1);  // nothing queued: wait for a notify

bool IsAdaptive(BatchPolicy policy) {
  return policy == BatchPolicy::kAimd || policy == BatchPolicy::kTrend;
}

Duration LatencyTarget(const BatcherOptions& o) {
  return std::chrono::microseconds(o.controller.latency_target_micros);
}

}  // namespace

Status BatcherOptions::Validate() const {
  BW_RETURN_IF_ERROR(controller.Validate());
  if (max_queue_size < controller.max_batch_size) {
    return InvalidArgument("max_queue_size must be >= controller.max_batch_size");
  }
  if (max_queue_delay_micros < 0) return InvalidArgument("max_queue_delay_micros must be >= 0");
  if (default_timeout_micros < 0) return InvalidArgument("default_timeout_micros must be >= 0");
  return Status::Ok();
}

Result<std::unique_ptr<Batcher>> Batcher::Create(const BatcherOptions& options, Clock& clock,
                                                 BatchFn batch_fn,
                                                 std::unique_ptr<LatencyPredictor> predictor) {
  BW_RETURN_IF_ERROR(options.Validate());
  if (!batch_fn) return InvalidArgument("batch_fn is required");
  const ControllerState* resume = options.resume_controller ? &*options.resume_controller : nullptr;
  BW_ASSIGN_OR_RETURN(auto controller, CreateBatchController(options.controller, resume));
  if (!predictor) predictor = NewEwmaPredictor(options.controller.max_batch_size);
  return std::unique_ptr<Batcher>(new Batcher(options, clock, std::move(batch_fn),
                                              std::move(controller), std::move(predictor)));
}

Batcher::Batcher(const BatcherOptions& options, Clock& clock, BatchFn batch_fn,
                 std::unique_ptr<BatchController> controller,
                 std::unique_ptr<LatencyPredictor> predictor)
    : opts_(options),
      clock_(clock),
      batch_fn_(std::move(batch_fn)),
      controller_(std::move(controller)),
      predictor_(std::move(predictor)),
      thread_([this](std::stop_token stop) { Loop(std::move(stop)); }) {}

Batcher::~Batcher() {
  thread_.request_stop();
  thread_.join();
}

Status Batcher::Schedule(std::unique_ptr<BatchTask>* task) {
  if (task == nullptr || *task == nullptr) return InvalidArgument("null task");
  const int size = (*task)->size();
  if (size < 1 || size > opts_.controller.max_batch_size) {
    return InvalidArgument("task size " + std::to_string(size) + " outside [1, " +
                           std::to_string(opts_.controller.max_batch_size) + "]");
  }
  const TimePoint now = clock_.Now();
  const Duration timeout = (*task)->timeout() > Duration::zero()
                               ? (*task)->timeout()
                               : std::chrono::microseconds(opts_.default_timeout_micros);
  const TimePoint deadline = timeout > Duration::zero() ? now + timeout : TimePoint::max();
  const TimePoint received = (*task)->received();
  const TimePoint arrived = received == TimePoint{} ? now : std::min(received, now);
  bool wake = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (Status s = AdmissionLocked(now, arrived, size); !s.ok()) {
      if (stopping_) return s;
      if (queued_samples_ + size > opts_.max_queue_size) {
        ++stats_.rejected_full;
      } else {
        ++stats_.rejected_late;
      }
      return s;
    }
    const int target = controller_->NextBatchSize();
    wake = queue_.empty() || (queued_samples_ < target && queued_samples_ + size >= target);
    queue_.push_back({std::move(*task), arrived, deadline});
    queued_samples_ += size;
    earliest_deadline_ = std::min(earliest_deadline_, deadline);
    ++stats_.accepted;
  }
  if (wake) cv_.notify_one();
  return Status::Ok();
}

Status Batcher::CheckAdmission(int size, TimePoint received) const {
  const TimePoint now = clock_.Now();
  std::lock_guard<std::mutex> l(mu_);
  return AdmissionLocked(now, received == TimePoint{} ? now : std::min(received, now), size);
}

Status Batcher::AdmissionLocked(TimePoint now, TimePoint arrived, int size) const {
  if (stopping_) return Unavailable("batcher is shutting down");
  if (queued_samples_ + size > opts_.max_queue_size) {
    return Unavailable("batch queue full (" + std::to_string(opts_.max_queue_size) +
                       " samples); retry later");
  }
  if (!queue_.empty() &&
      (now - arrived) + PredictedCompletionLocked(now, size) > LatencyTarget(opts_)) {
    return Unavailable("the queue holds more than the latency target's worth of work (" +
                       std::to_string(opts_.controller.latency_target_micros / 1000) +
                       " ms); retry later");
  }
  return Status::Ok();
}

BatcherState Batcher::State() const {
  std::lock_guard<std::mutex> l(mu_);
  return {controller_->State(), queued_samples_, static_cast<int>(queue_.size()),
          in_flight_samples_, stats_};
}

// The thread: wait for something to do, do it outside the lock, repeat until stopped.
void Batcher::Loop(std::stop_token stop) {
  std::stop_callback wake_on_stop(stop, [this] {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    cv_.notify_all();
  });
  for (bool running = true; running;) {
    Work work = WaitForWork();
    CompleteAll(work.expired, DeadlineExceeded("request waited past its timeout in the queue"));
    if (work.batch) RunBatch(*work.batch);
    CompleteAll(work.cancelled, Unavailable("batcher shut down before running the request"));
    running = !work.stop;
  }
}

Batcher::Work Batcher::WaitForWork() {
  std::unique_lock<std::mutex> l(mu_);
  Work work;
  while (true) {
    if (stopping_) {
      CancelAllLocked(work);
      return work;
    }
    const TimePoint now = clock_.Now();
    TakeExpiredLocked(now, work);
    if (ReadyLocked(now)) work.batch = FormBatchLocked();
    if (work.batch || !work.expired.empty()) return work;
    clock_.WaitUntil(l, cv_, NextWakeLocked(now));
  }
}

void Batcher::RunBatch(Batch& batch) {
  const TimePoint start = clock_.Now();
  const Status status = batch_fn_(batch);
  // Learn first: a caller that has its answer must also see the batch in the stats and controller.
  Learn(batch, start, status.ok());
  CompleteAll(batch.tasks_, status);
}

void Batcher::Learn(const Batch& batch, TimePoint start, bool ok) {
  const TimePoint end = clock_.Now();
  std::lock_guard<std::mutex> l(mu_);
  in_flight_samples_ = 0;
  ++stats_.batches;
  if (ok) {
    stats_.completed_samples += batch.size();
    predictor_->Observe(batch.size(), end - start);
  } else {
    ++stats_.failed_batches;
  }
  controller_->OnBatchDone({.batch_size = batch.size(),
                            .latency = end - batch.oldest_enqueued(),
                            .compute_latency = end - start,
                            .queued_samples = queued_samples_,
                            .ok = ok});
}

void Batcher::TakeExpiredLocked(TimePoint now, Work& work) {
  if (now < earliest_deadline_) return;
  earliest_deadline_ = TimePoint::max();
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->deadline <= now) {
      queued_samples_ -= it->task->size();
      ++stats_.timed_out;
      work.expired.push_back(std::move(it->task));
      it = queue_.erase(it);
    } else {
      earliest_deadline_ = std::min(earliest_deadline_, it->deadline);
      ++it;
    }
  }
}

// Called only while no batch runs (the thread is in WaitForWork).
bool Batcher::ReadyLocked(TimePoint now) const {
  if (queue_.empty()) return false;
  if (IsAdaptive(opts_.controller.policy)) return true;
  return queued_samples_ >= controller_->NextBatchSize() || now >= DispatchTimeLocked();
}

TimePoint Batcher::DispatchTimeLocked() const {
  if (IsAdaptive(opts_.controller.policy)) return queue_.front().enqueued;
  return queue_.front().enqueued + std::chrono::microseconds(opts_.max_queue_delay_micros);
}

// When a task of `samples` queued now would complete: the batch in flight finishes, then the queue
// and the task leave in batches of the current size. Zero while the predictor knows nothing.
Duration Batcher::PredictedCompletionLocked(TimePoint now, int samples) const {
  Duration wait{0};
  if (in_flight_samples_ > 0) {
    wait = std::max(Duration::zero(),
                    predictor_->Predict(in_flight_samples_) - (now - in_flight_since_));
  }
  const int cap = controller_->NextBatchSize();
  const int total = queued_samples_ + samples;
  wait += (total / cap) * predictor_->Predict(cap);
  if (total % cap > 0) wait += predictor_->Predict(total % cap);
  return wait;
}

TimePoint Batcher::NextWakeLocked(TimePoint now) const {
  if (queue_.empty()) return now + kIdleWait;
  return std::min(DispatchTimeLocked(), earliest_deadline_);
}

// Oldest first, up to the current size; a first task larger than that goes alone.
Batch Batcher::FormBatchLocked() {
  const int target = controller_->NextBatchSize();
  Batch batch;
  batch.oldest_enqueued_ = queue_.front().enqueued;
  while (!queue_.empty()) {
    const int size = queue_.front().task->size();
    if (!batch.tasks_.empty() && batch.size_ + size > target) break;
    batch.size_ += size;
    // Not always the front's: a task that took longer to arrive may have queued behind it.
    batch.oldest_enqueued_ = std::min(batch.oldest_enqueued_, queue_.front().enqueued);
    queued_samples_ -= size;
    batch.tasks_.push_back(std::move(queue_.front().task));
    queue_.pop_front();
    if (batch.size_ >= target) break;
  }
  in_flight_samples_ = batch.size_;
  in_flight_since_ = clock_.Now();
  return batch;
}

void Batcher::CancelAllLocked(Work& work) {
  for (Pending& p : queue_) work.cancelled.push_back(std::move(p.task));
  queue_.clear();
  queued_samples_ = 0;
  work.stop = true;
}

void Batcher::CompleteAll(std::vector<std::unique_ptr<BatchTask>>& tasks, const Status& status) {
  for (auto& task : tasks) task->Done(status);
  tasks.clear();
}

}  // namespace batchwise
