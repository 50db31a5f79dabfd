#include "frontend/grpc_infer.h"

#include <deque>
#include <mutex>
#include <utility>

#include "common/thread_annotations.h"
#include "frontend/grpc_codec.h"
#include "frontend/grpc_status.h"
#include "service/inference_service.h"
#include "grpc_service.grpc.pb.h"  // the messages' SerializationTraits

namespace batchwise::grpc_infer {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;
using inference::ModelStreamInferResponse;

constexpr char kStreamMethod[] = "ModelStreamInfer";

// One ModelStreamInfer call. Reads one request at a time (the next read starts once the last
// one is submitted); writes one response at a time from a queue that the batching threads fill.
// gRPC calls the reactions one at a time per kind; the state they share is under mu_, and
// StartWrite/Finish are called after mu_ is released.
class StreamInferReactor final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit StreamInferReactor(InferenceService& service) : service_(service) { StartRead(&read_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed, or the call is cancelled
      std::unique_lock lock(mu_);
      reads_done_ = true;
      ContinueAndUnlock(lock);
      return;
    }
    Handle(read_);
    read_.Clear();
    StartRead(&read_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    writes_.pop_front();
    writing_ = false;
    if (!ok) {  // the call is gone: nothing more can be written
      broken_ = true;
      writes_.clear();
    }
    ContinueAndUnlock(lock);
  }

  void OnCancel() override {
    std::unique_lock lock(mu_);
    broken_ = true;
    ContinueAndUnlock(lock);
  }

  void OnDone() override {
    bool last;
    {
      std::lock_guard lock(mu_);
      done_ = true;
      last = in_flight_ == 0;
    }
    if (last) delete this;
  }

 private:
  // Submits one request, or answers its error at once.
  void Handle(const grpc::ByteBuffer& raw) {
    const TimePoint start = service_.clock().Now();
    ModelInferRequest request;
    Status s = ParseInferRequest(raw, request);
    const std::string model = request.model_name();
    const std::string id = request.id();
    if (s.ok()) {
      {
        std::lock_guard lock(mu_);
        ++in_flight_;
      }
      s = SubmitInfer(service_, request,
                      [this, model, id, start](Status outcome, ModelInferResponse& response) {
                        Respond(model, id, start, outcome, response);
                        Release();
                      });
      if (!s.ok()) {
        std::lock_guard lock(mu_);
        --in_flight_;  // no read is pending: the stream cannot finish meanwhile
      }
    }
    if (!s.ok()) {
      ModelInferResponse none;
      Respond(model, id, start, s, none);
    }
  }

  // Counts the request's outcome and queues its answer.
  void Respond(const std::string& model, const std::string& id, TimePoint start,
               const Status& outcome, ModelInferResponse& response) {
    RecordOutcome(service_, kStreamMethod, model, outcome, start);
    ModelStreamInferResponse message;
    if (outcome.ok()) {
      message.mutable_infer_response()->Swap(&response);
    } else {
      message.set_error_message(ClientMessage(outcome.message()));
      message.mutable_infer_response()->set_model_name(model);
      message.mutable_infer_response()->set_id(id);
    }
    grpc::ByteBuffer buffer;
    bool own = false;
    if (!grpc::SerializationTraits<ModelStreamInferResponse>::Serialize(message, &buffer, &own)
             .ok()) {
      return;  // cannot happen for a message this server built; the client sees no answer
    }
    std::unique_lock lock(mu_);
    if (broken_ || finishing_) return;
    writes_.push_back(std::move(buffer));
    ContinueAndUnlock(lock);
  }

  // One request of the stream is answered (or dropped).
  void Release() {
    bool last;
    {
      std::unique_lock lock(mu_);
      --in_flight_;
      last = done_ && in_flight_ == 0;
      if (!last) ContinueAndUnlock(lock);
    }
    if (last) delete this;
  }

  // The next step after any change: write the next response, or finish the call once the client
  // has half-closed and every answer is written (without waiting for the requests in flight when
  // the call is broken). Takes the held lock and releases it; StartWrite and Finish run after that.
  void ContinueAndUnlock(std::unique_lock<std::mutex>& lock) {
    if (broken_ && !writing_) writes_.clear();
    if (finishing_ || writing_) return lock.unlock();
    if (!writes_.empty()) {
      writing_ = true;
      const grpc::ByteBuffer* next = &writes_.front();  // stays put until OnWriteDone pops it
      lock.unlock();
      StartWrite(next);
      return;
    }
    if (!reads_done_ || (in_flight_ > 0 && !broken_)) return lock.unlock();
    finishing_ = true;
    const bool broken = broken_;
    lock.unlock();
    Finish(broken ? grpc::Status::CANCELLED : grpc::Status::OK);
  }

  InferenceService& service_;
  grpc::ByteBuffer read_;  // only the read reactions touch it
  std::mutex mu_;
  std::deque<grpc::ByteBuffer> writes_ GUARDED_BY(mu_);  // front: being written when writing_
  bool writing_ GUARDED_BY(mu_) = false;
  bool reads_done_ GUARDED_BY(mu_) = false;
  bool broken_ GUARDED_BY(mu_) = false;     // cancelled, or a write failed
  bool finishing_ GUARDED_BY(mu_) = false;  // Finish called
  bool done_ GUARDED_BY(mu_) = false;       // OnDone called: gRPC is done with the call
  int in_flight_ GUARDED_BY(mu_) = 0;       // submitted, not yet answered by the scheduler
};

}  // namespace

Status ParseInferRequest(const grpc::ByteBuffer& raw, ModelInferRequest& out) {
  if (raw.Length() == 0) return Status::Ok();
  grpc::ByteBuffer view(raw);  // shares the slices; Deserialize consumes its argument
  if (!grpc::SerializationTraits<ModelInferRequest>::Deserialize(&view, &out).ok()) {
    return InvalidArgument(
        "the request is not a valid inference.ModelInferRequest (malformed "
        "protobuf)");
  }
  return Status::Ok();
}

Status SubmitInfer(InferenceService& service, ModelInferRequest& request, InferDone done) {
  const std::string& model = request.model_name();
  BW_RETURN_IF_ERROR(InferenceService::CheckModelName(model));
  BW_RETURN_IF_ERROR(service.CheckModelVersion(model, request.model_version()));
  BW_RETURN_IF_ERROR(service.CheckLoaded(model));
  SharedMemoryOutputs targets;
  BW_ASSIGN_OR_RETURN(InferRequest decoded,
                      kserve::DecodeGrpcInferRequest(request, &service.shared_memory(), &targets));
  decoded.model = model;
  return service.SubmitInfer(
      std::move(decoded),
      [done = std::move(done), targets = std::move(targets)](Status s, InferResponse r) {
        ModelInferResponse response;
        if (s.ok()) s = kserve::EncodeGrpcInferResponse(r, response, &targets);
        done(std::move(s), response);
      });
}

void RecordOutcome(InferenceService& service, const char* method, const std::string& model,
                   const Status& outcome, TimePoint start) {
  service.RecordInferOutcome(model, outcome, start);
  if (service.metrics() != nullptr) {
    service.metrics()->RecordGrpc(method, std::string(StatusCodeName(outcome.code())));
  }
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewStreamInferReactor(
    InferenceService& service) {
  return new StreamInferReactor(service);
}

}  // namespace batchwise::grpc_infer
