#include "serving/model_instance.h"

#include <chrono>

#include "profile/profiler.h"

namespace batchwise {
namespace {

using RequestTask = CallbackTask<std::unique_ptr<QueuedRequest>>;

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<ModelInstance>> ModelInstance::Create(const Options& options,
                                                             std::unique_ptr<Engine> engine,
                                                             ModelStats* stats, Clock& clock) {
  if (engine == nullptr) return InvalidArgument("model instance needs an engine");
  if (stats == nullptr) return InvalidArgument("model instance needs stats");
  if (options.warmup_batches < 0) return InvalidArgument("warmup_batches must be >= 0");
  if (options.busy_window <= Duration::zero()) return InvalidArgument("busy_window must be > 0");
  std::unique_ptr<ModelInstance> instance(
      new ModelInstance(options, std::move(engine), stats, clock));
  BW_RETURN_IF_ERROR(instance->Warmup());
  ModelInstance* self = instance.get();
  BW_ASSIGN_OR_RETURN(
      instance->batcher_,
      Batcher::Create(options.batching, clock, [self](Batch& b) { return self->TimedBatch(b); }));
  return instance;
}

ModelInstance::ModelInstance(const Options& options, std::unique_ptr<Engine> engine,
                             ModelStats* stats, Clock& clock)
    : options_(options),
      engine_(std::move(engine)),
      stats_(stats),
      clock_(clock),
      busy_(clock.Now(), options.busy_window) {}

ModelInstance::~ModelInstance() { batcher_.reset(); }

Status ModelInstance::Warmup() {
  for (int i = 0; i < options_.warmup_batches; ++i) {
    std::vector<Tensor> batch = MakeRandomBatch(engine_->inputs(), 1, static_cast<uint32_t>(i));
    Status s = engine_->Run(batch).status();
    if (!s.ok()) return s.WithContext("warm-up of '" + options_.model + "' failed");
  }
  return Status::Ok();
}

Status ModelInstance::CheckAdmission(int batch_size, TimePoint received) const {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (draining_) return Unavailable("instance of '" + options_.model + "' is draining");
  }
  return batcher_->CheckAdmission(batch_size, received);
}

Status ModelInstance::Submit(std::unique_ptr<QueuedRequest>* request, int batch_size) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (draining_) return Unavailable("instance of '" + options_.model + "' is draining");
    ++in_flight_requests_;
  }
  in_flight_samples_.fetch_add(batch_size, std::memory_order_relaxed);
  (*request)->accepted = clock_.Now();
  const Duration timeout = (*request)->timeout;
  const TimePoint received = (*request)->received;
  std::unique_ptr<BatchTask> task = std::make_unique<RequestTask>(
      std::move(*request), batch_size,
      [this, batch_size](Status s, std::unique_ptr<QueuedRequest>& r) {
        Complete(std::move(s), *r, batch_size);
      },
      timeout, received);
  Status s = batcher_->Schedule(&task);
  if (s.ok()) return s;
  *request = std::move(static_cast<RequestTask&>(*task).payload());  // hand it back untouched
  in_flight_samples_.fetch_sub(batch_size, std::memory_order_relaxed);
  std::lock_guard<std::mutex> l(mu_);
  --in_flight_requests_;
  drained_.notify_all();
  return s;
}

void ModelInstance::Drain() {
  std::unique_lock<std::mutex> l(mu_);
  draining_ = true;
  drained_.wait(l, [this] { return in_flight_requests_ == 0; });
}

Status ModelInstance::TimedBatch(Batch& batch) {
  const TimePoint start = clock_.Now();
  Status s = RunBatch(batch);
  busy_.Add(start, clock_.Now());
  return s;
}

Status ModelInstance::RunBatch(Batch& batch) {
  const TimePoint dispatched = clock_.Now();
  for (int i = 0; i < batch.num_tasks(); ++i) {
    batch.task_as<RequestTask>(i).payload()->dispatched = dispatched;
  }
  std::vector<Tensor> outputs;
  Duration input{0}, infer{0};
  BW_RETURN_IF_ERROR(RunEngine(batch, outputs, input, infer));
  const TimePoint split_start = clock_.Now();
  BW_RETURN_IF_ERROR(SplitOutputs(batch, outputs));
  const Duration output = clock_.Now() - split_start;
  stats_->RecordBatch(batch.size(), input, infer, output);
  const int requests = batch.num_tasks();  // each request counts its batch's duration
  stats_->compute_input.Add(input * requests, requests);
  stats_->compute_infer.Add(infer * requests, requests);
  stats_->compute_output.Add(output * requests, requests);
  stats_->RecordInferences(batch.size(), WallMillis());
  return Status::Ok();
}

// Concatenates each input over the batch's requests and runs the engine once.
Status ModelInstance::RunEngine(Batch& batch, std::vector<Tensor>& outputs, Duration& input,
                                Duration& infer) {
  const TimePoint start = clock_.Now();
  const size_t num_inputs = engine_->inputs().size();
  std::vector<Tensor> joined;
  joined.reserve(num_inputs);
  for (size_t k = 0; k < num_inputs; ++k) {
    std::vector<Tensor> parts;
    parts.reserve(batch.num_tasks());
    for (int i = 0; i < batch.num_tasks(); ++i) {
      parts.push_back(batch.task_as<RequestTask>(i).payload()->inputs[k]);
    }
    BW_ASSIGN_OR_RETURN(Tensor t, ConcatBatch(parts));
    joined.push_back(std::move(t));
  }
  const TimePoint run_start = clock_.Now();
  input = run_start - start;
  BW_ASSIGN_OR_RETURN(outputs, engine_->Run(joined));
  infer = clock_.Now() - run_start;
  if (outputs.size() != engine_->outputs().size()) {
    return Internal("engine returned " + std::to_string(outputs.size()) + " outputs, expected " +
                    std::to_string(engine_->outputs().size()));
  }
  return Status::Ok();
}

// Gives each request its rows of every output (views of the batch output, no copies).
Status ModelInstance::SplitOutputs(Batch& batch, const std::vector<Tensor>& outputs) {
  std::vector<int64_t> sizes;
  for (int i = 0; i < batch.num_tasks(); ++i) sizes.push_back(batch.task(i).size());
  for (const Tensor& out : outputs) {
    BW_ASSIGN_OR_RETURN(std::vector<Tensor> pieces, SplitBatch(out, sizes));
    for (int i = 0; i < batch.num_tasks(); ++i) {
      batch.task_as<RequestTask>(i).payload()->outputs.push_back(std::move(pieces[i]));
    }
  }
  return Status::Ok();
}

InferResponse ModelInstance::MakeResponse(QueuedRequest& request) const {
  InferResponse response;
  response.model = request.model;
  response.model_version = request.model_version;
  response.id = request.id;
  response.processor = options_.processor_id;
  response.simulated = engine_->simulated();
  for (size_t i = 0; i < request.output_indices.size(); ++i) {
    response.outputs.push_back(
        {request.output_names[i], std::move(request.outputs[request.output_indices[i]])});
  }
  return response;
}

void ModelInstance::Complete(Status status, QueuedRequest& request, int batch_size) {
  const TimePoint now = clock_.Now();
  const bool ran = request.dispatched != TimePoint{};
  if (status.ok()) {  // as Triton does, queue time counts for successful requests only
    stats_->queue.Add(request.dispatched - request.accepted);
    stats_->success.Add(now - request.accepted);
  } else {
    stats_->RecordFailure(now - request.accepted, /*expired=*/!ran);
  }
  InferResponse response = status.ok() ? MakeResponse(request) : InferResponse{};
  if (!status.ok()) {
    response.model = request.model;
    response.model_version = request.model_version;
    response.id = request.id;
  }
  request.done(std::move(status), std::move(response));
  completed_.fetch_add(1, std::memory_order_relaxed);
  in_flight_samples_.fetch_sub(batch_size, std::memory_order_relaxed);
  std::lock_guard<std::mutex> l(mu_);
  --in_flight_requests_;
  drained_.notify_all();
}

}  // namespace batchwise
