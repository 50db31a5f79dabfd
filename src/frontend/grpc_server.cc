#include "frontend/grpc_server.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/message_allocator.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>

#include "frontend/grpc_codec.h"
#include "frontend/grpc_status.h"
#include "frontend/kserve_service.h"
#include "grpc_service.grpc.pb.h"

namespace batchwise {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;
using namespace inference;  // NOLINT: the generated messages

// ModelInfer's messages, allocated by the server rather than by gRPC, so the handler holds a
// mutable request it may move tensor bytes out of (no const_cast of gRPC's view of it). gRPC
// calls Release() once the call is done.
class InferMessages final : public grpc::MessageHolder<ModelInferRequest, ModelInferResponse> {
 public:
  InferMessages() {
    set_request(&request_);
    set_response(&response_);
  }
  void Release() override { delete this; }
  ModelInferRequest& owned_request() { return request_; }

 private:
  ModelInferRequest request_;
  ModelInferResponse response_;
};

class InferAllocator final : public grpc::MessageAllocator<ModelInferRequest, ModelInferResponse> {
 public:
  grpc::MessageHolder<ModelInferRequest, ModelInferResponse>* AllocateMessages() override {
    return new InferMessages();
  }
};

void FillTensors(const std::vector<TensorSpec>& specs,
                 google::protobuf::RepeatedPtrField<ModelMetadataResponse::TensorMetadata>* out) {
  for (const auto& spec : specs) {
    auto* t = out->Add();
    t->set_name(spec.name);
    t->set_datatype(std::string(DataTypeName(spec.dtype)));
    for (int64_t d : spec.shape) t->add_shape(d);
  }
}

// The service: each RPC validates through KServeService, answers, and counts the answer.
class InferenceService final : public GRPCInferenceService::CallbackService {
 public:
  explicit InferenceService(KServeService& service) : service_(service) {
    SetMessageAllocatorFor_ModelInfer(&allocator_);
  }

  ServerUnaryReactor* ServerLive(CallbackServerContext* ctx, const ServerLiveRequest*,
                                 ServerLiveResponse* response) override {
    response->set_live(true);
    return Answer(ctx, "ServerLive", Status::Ok());
  }

  ServerUnaryReactor* ServerReady(CallbackServerContext* ctx, const ServerReadyRequest*,
                                  ServerReadyResponse* response) override {
    response->set_ready(service_.ready());
    return Answer(ctx, "ServerReady", Status::Ok());
  }

  // Loaded: ready. In the repository but not loaded: OK with ready false (HTTP's 400), so
  // Triton's and KServe's clients see "not ready" rather than an error. Unknown: NOT_FOUND.
  ServerUnaryReactor* ModelReady(CallbackServerContext* ctx, const ModelReadyRequest* request,
                                 ModelReadyResponse* response) override {
    Status s = CheckModel(request->name(), request->version());
    if (s.ok()) s = service_.ModelReadiness(request->name());
    response->set_ready(s.ok());
    if (s.code() == StatusCode::kFailedPrecondition) s = Status::Ok();
    return Answer(ctx, "ModelReady", s);
  }

  ServerUnaryReactor* ServerMetadata(CallbackServerContext* ctx, const ServerMetadataRequest*,
                                     ServerMetadataResponse* response) override {
    response->set_name("batchwise");
    response->set_version(service_.server_version());
    for (const auto& e : KServeService::Extensions()) response->add_extensions(e);
    return Answer(ctx, "ServerMetadata", Status::Ok());
  }

  ServerUnaryReactor* ModelMetadata(CallbackServerContext* ctx, const ModelMetadataRequest* request,
                                    ModelMetadataResponse* response) override {
    Status s = CheckModel(request->name(), request->version());
    if (!s.ok()) return Answer(ctx, "ModelMetadata", s);
    auto c = service_.LoadedModel(request->name());
    if (!c.ok()) return Answer(ctx, "ModelMetadata", c.status());
    response->set_name(c->name);
    response->add_versions("1");
    response->set_platform(KServeService::PlatformName(*c));
    FillTensors(c->inputs, response->mutable_inputs());
    FillTensors(c->outputs, response->mutable_outputs());
    return Answer(ctx, "ModelMetadata", Status::Ok());
  }

  ServerUnaryReactor* ModelStatistics(CallbackServerContext* ctx,
                                      const ModelStatisticsRequest* request,
                                      ModelStatisticsResponse* response) override {
    Status s =
        request->name().empty() ? Status::Ok() : CheckModel(request->name(), request->version());
    if (!s.ok()) return Answer(ctx, "ModelStatistics", s);
    auto stats = service_.StatsJson(request->name());
    if (!stats.ok()) return Answer(ctx, "ModelStatistics", stats.status());
    // The HTTP statistics are Triton's JSON mapping of these very messages.
    google::protobuf::util::JsonParseOptions o;
    o.ignore_unknown_fields = true;
    auto parsed = google::protobuf::util::JsonStringToMessage(stats->dump(), response, o);
    if (!parsed.ok()) s = Internal("statistics do not fit the protocol: " + parsed.ToString());
    return Answer(ctx, "ModelStatistics", s);
  }

  ServerUnaryReactor* ModelInfer(CallbackServerContext* ctx, const ModelInferRequest*,
                                 ModelInferResponse* response) override;

 private:
  Status CheckModel(const std::string& model, const std::string& version) const {
    BW_RETURN_IF_ERROR(KServeService::CheckModelName(model));
    return KServeService::CheckModelVersion(model, version);
  }

  void Record(const char* method, const Status& s) const {
    if (service_.metrics() != nullptr)
      service_.metrics()->RecordGrpc(method, std::string(StatusCodeName(s.code())));
  }

  ServerUnaryReactor* Answer(CallbackServerContext* ctx, const char* method, const Status& s) {
    Record(method, s);
    ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }

  KServeService& service_;
  InferAllocator allocator_;
};

ServerUnaryReactor* InferenceService::ModelInfer(CallbackServerContext* ctx,
                                                 const ModelInferRequest*,
                                                 ModelInferResponse* response) {
  const TimePoint start = service_.clock().Now();
  // The request gRPC passed is this holder's own message; take it mutable from its owner.
  ModelInferRequest& request =
      static_cast<InferMessages*>(ctx->GetRpcAllocatorState())->owned_request();
  const std::string model = request.model_name();
  auto fail = [&](const Status& s) {
    service_.RecordInferOutcome(model, s, start);
    return Answer(ctx, "ModelInfer", s);
  };
  if (Status s = CheckModel(model, request.model_version()); !s.ok()) return fail(s);
  if (Status s = service_.CheckLoaded(model); !s.ok()) return fail(s);
  auto decoded = kserve::DecodeGrpcInferRequest(request);
  if (!decoded.ok()) return fail(decoded.status());
  decoded->model = model;
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  Status accepted = service_.SubmitInfer(
      std::move(*decoded), [this, reactor, response, model, start](Status s, InferResponse r) {
        if (s.ok()) s = kserve::EncodeGrpcInferResponse(r, *response);
        service_.RecordInferOutcome(model, s, start);
        Record("ModelInfer", s);
        reactor->Finish(ToGrpcStatus(s));
      });
  if (!accepted.ok()) return fail(accepted);
  return reactor;
}

}  // namespace

class GrpcServer::Impl {
 public:
  explicit Impl(KServeService& service, const Options& options)
      : service_(service), options_(options) {}

  Status Start() {
    grpc::ServerBuilder b;
    const std::string address = options_.host + ":" + std::to_string(options_.port);
    b.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
    b.SetMaxReceiveMessageSize(options_.max_message_bytes);
    b.SetMaxSendMessageSize(options_.max_message_bytes);
    b.RegisterService(&service_);
    server_ = b.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      server_.reset();
      return Unavailable("cannot serve gRPC on " + address);
    }
    return Status::Ok();
  }

  void Shutdown() {
    std::call_once(once_, [this] {
      if (server_ == nullptr) return;
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::milliseconds(options_.shutdown_grace_ms));
      server_->Wait();
    });
  }

  int port() const { return port_; }

 private:
  InferenceService service_;
  const Options options_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::once_flag once_;
};

Status GrpcServer::Options::Validate() const {
  if (port < 0 || port > 65535) return InvalidArgument("gRPC port must be in [0, 65535]");
  if (max_message_bytes < 1024) return InvalidArgument("--grpc-max-message-bytes must be >= 1024");
  if (shutdown_grace_ms < 0) return InvalidArgument("gRPC shutdown grace must be >= 0 ms");
  return Status::Ok();
}

Result<std::unique_ptr<GrpcServer>> GrpcServer::Create(const Options& options,
                                                       KServeService& service) {
  BW_RETURN_IF_ERROR(options.Validate());
  Options o = options;
  if (o.host.empty()) o.host = "127.0.0.1";
  auto impl = std::make_unique<Impl>(service, o);
  BW_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcServer::~GrpcServer() { Shutdown(); }
void GrpcServer::Shutdown() { impl_->Shutdown(); }
int GrpcServer::port() const { return impl_->port(); }

}  // namespace batchwise
