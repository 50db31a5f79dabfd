#include "frontend/grpc_server.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "frontend/grpc_infer.h"
#include "frontend/grpc_status.h"
#include "frontend/listen_check.h"
#include "frontend/shared_memory_http.h"  // kCudaSharedMemoryUnsupported
#include "grpc_service.grpc.pb.h"
#include "service/inference_service.h"

namespace batchwise {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;
using namespace inference;  // NOLINT: the generated messages

void FillTensors(const std::vector<TensorSpec>& specs,
                 google::protobuf::RepeatedPtrField<ModelMetadataResponse::TensorMetadata>* out) {
  for (const auto& spec : specs) {
    auto* t = out->Add();
    t->set_name(spec.name);
    t->set_datatype(std::string(DataTypeName(spec.dtype)));
    for (int64_t d : spec.shape) t->add_shape(d);
  }
}

// Triton's data type enum of `dtype` (the generated enum's names are Triton's).
Status FillDataType(DataType dtype, inference::DataType* out) {
  if (!inference::DataType_Parse(TritonTypeName(dtype), out)) {
    return Internal("the data type " + TritonTypeName(dtype) + " has no Triton number");
  }
  return Status::Ok();
}

template <typename Message>
Status FillTensorConfigs(const std::vector<TritonTensorConfig>& tensors,
                         google::protobuf::RepeatedPtrField<Message>* out) {
  for (const auto& t : tensors) {
    Message* m = out->Add();
    m->set_name(t.name);
    inference::DataType dtype;
    BW_RETURN_IF_ERROR(FillDataType(t.dtype, &dtype));
    m->set_data_type(dtype);
    for (int64_t d : t.dims) m->add_dims(d);
  }
  return Status::Ok();
}

// Triton's ModelConfig message of InferenceService::TritonConfig (less Batchwise's own section,
// which the message has no field for).
Status FillConfig(const TritonModelConfig& c, inference::ModelConfig& out) {
  out.set_name(c.name);
  out.set_platform(c.platform);
  out.set_backend(c.backend);
  out.mutable_version_policy()->mutable_latest()->set_num_versions(c.latest_versions);
  out.set_max_batch_size(c.max_batch_size);
  BW_RETURN_IF_ERROR(FillTensorConfigs(c.inputs, out.mutable_input()));
  BW_RETURN_IF_ERROR(FillTensorConfigs(c.outputs, out.mutable_output()));
  for (const auto& g : c.instance_groups) {
    auto* m = out.add_instance_group();
    m->set_name(g.name);
    m->set_count(g.count);
    ModelInstanceGroup::Kind kind;
    if (!ModelInstanceGroup::Kind_Parse(g.kind, &kind)) {
      return Internal("the instance kind " + g.kind + " has no Triton number");
    }
    m->set_kind(kind);
  }
  out.mutable_dynamic_batching();
  for (const auto& [key, value] : c.parameters) {
    (*out.mutable_parameters())[key].set_string_value(value);
  }
  return Status::Ok();
}

// Every RPC on the callback API with typed messages except ModelInfer and ModelStreamInfer, which
// take their requests and answers as bytes: gRPC answers a typed request that does not parse with
// UNIMPLEMENTED and no message; parsing it here lets a malformed ModelInferRequest be an
// INVALID_ARGUMENT that says so. (It also gives the handler a request of its own to move raw tensor
// bytes out of.)
using G = GRPCInferenceService;
using SharedMemoryRpcs =
    G::WithCallbackMethod_SystemSharedMemoryStatus<G::WithCallbackMethod_SystemSharedMemoryRegister<
        G::WithCallbackMethod_SystemSharedMemoryUnregister<
            G::WithCallbackMethod_CudaSharedMemoryStatus<
                G::WithCallbackMethod_CudaSharedMemoryRegister<
                    G::WithCallbackMethod_CudaSharedMemoryUnregister<G::Service>>>>>>;
using ServiceBase = G::WithCallbackMethod_ServerLive<
    G::WithCallbackMethod_ServerReady<G::WithCallbackMethod_ModelReady<
        G::WithCallbackMethod_ServerMetadata<G::WithCallbackMethod_ModelMetadata<
            G::WithRawCallbackMethod_ModelInfer<G::WithRawCallbackMethod_ModelStreamInfer<
                G::WithCallbackMethod_ModelConfig<G::WithCallbackMethod_ModelStatistics<
                    G::WithCallbackMethod_RepositoryIndex<G::WithCallbackMethod_RepositoryModelLoad<
                        G::WithCallbackMethod_RepositoryModelUnload<SharedMemoryRpcs>>>>>>>>>>>>;

// The value of the call's "authorization" metadata, if it has one.
std::optional<std::string> Authorization(const CallbackServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

// Triton's load parameter "config" (a model config in Triton's JSON form, as string_param),
// what HTTP's {"parameters": {"config": ...}} carries; "" when absent (the folder's config).
Result<std::string> LoadConfigParameter(const RepositoryModelLoadRequest& request) {
  auto it = request.parameters().find("config");
  if (it == request.parameters().end()) return std::string();
  if (it->second.parameter_choice_case() != ModelRepositoryParameter::kStringParam ||
      it->second.string_param().empty()) {
    return InvalidArgument("parameters.config must be a model config as a JSON string");
  }
  return it->second.string_param();
}

Status CheckRepositoryName(const std::string& repository) {
  if (repository.empty()) return Status::Ok();
  return Unimplemented("repository_name is not supported: Batchwise serves one repository");
}

// The RPCs: each translates its message into InferenceService calls, answers, and counts the
// answer.
class GrpcHandlers final : public ServiceBase {
 public:
  explicit GrpcHandlers(InferenceService& service) : service_(service) {}

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
    response->set_name(InferenceService::kServerName);
    response->set_version(service_.server_version());
    for (const auto& e : InferenceService::Extensions()) response->add_extensions(e);
    return Answer(ctx, "ServerMetadata", Status::Ok());
  }

  ServerUnaryReactor* ModelMetadata(CallbackServerContext* ctx, const ModelMetadataRequest* request,
                                    ModelMetadataResponse* response) override {
    Status s = CheckModel(request->name(), request->version());
    if (!s.ok()) return Answer(ctx, "ModelMetadata", s);
    auto m = service_.Metadata(request->name());
    if (!m.ok()) return Answer(ctx, "ModelMetadata", m.status());
    response->set_name(m->name);
    for (const auto& v : m->versions) response->add_versions(v);
    response->set_platform(m->platform);
    FillTensors(m->inputs, response->mutable_inputs());
    FillTensors(m->outputs, response->mutable_outputs());
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

  // InferenceService::TritonConfig (what HTTP's /config answers in JSON) in Triton's message.
  ServerUnaryReactor* ModelConfig(CallbackServerContext* ctx, const ModelConfigRequest* request,
                                  ModelConfigResponse* response) override {
    Status s = CheckModel(request->name(), request->version());
    if (!s.ok()) return Answer(ctx, "ModelConfig", s);
    auto config = service_.TritonConfig(request->name());
    if (!config.ok()) return Answer(ctx, "ModelConfig", config.status());
    return Answer(ctx, "ModelConfig", FillConfig(*config, *response->mutable_config()));
  }

  ServerUnaryReactor* RepositoryIndex(CallbackServerContext* ctx,
                                      const RepositoryIndexRequest* request,
                                      RepositoryIndexResponse* response) override {
    Status s = CheckRepositoryName(request->repository_name());
    if (!s.ok()) return Answer(ctx, "RepositoryIndex", s);
    auto entries = service_.RepositoryIndex(request->ready());
    if (!entries.ok()) return Answer(ctx, "RepositoryIndex", entries.status());
    for (const auto& e : *entries) {
      auto* m = response->add_models();
      m->set_name(e.name);
      m->set_version(e.version);
      m->set_state(e.state);
      m->set_reason(e.reason);
    }
    return Answer(ctx, "RepositoryIndex", Status::Ok());
  }

  ServerUnaryReactor* RepositoryModelLoad(CallbackServerContext* ctx,
                                          const RepositoryModelLoadRequest* request,
                                          RepositoryModelLoadResponse*) override {
    auto config_json = LoadConfigParameter(*request);
    if (!config_json.ok()) return Answer(ctx, "RepositoryModelLoad", config_json.status());
    return Repository(ctx, "RepositoryModelLoad", InferenceService::RepositoryAction::kLoad,
                      request->repository_name(), request->model_name(),
                      std::move(config_json).value());
  }

  ServerUnaryReactor* RepositoryModelUnload(CallbackServerContext* ctx,
                                            const RepositoryModelUnloadRequest* request,
                                            RepositoryModelUnloadResponse*) override {
    return Repository(ctx, "RepositoryModelUnload", InferenceService::RepositoryAction::kUnload,
                      request->repository_name(), request->model_name());
  }

  ServerUnaryReactor* ModelInfer(CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;

  // --- The system shared-memory extension (service/shared_memory.h); CUDA's is refused ---

  ServerUnaryReactor* SystemSharedMemoryStatus(
      CallbackServerContext* ctx, const SystemSharedMemoryStatusRequest* request,
      SystemSharedMemoryStatusResponse* response) override {
    auto regions = service_.shared_memory().List(request->name());
    if (!regions.ok()) return Answer(ctx, "SystemSharedMemoryStatus", regions.status());
    for (const auto& r : *regions) {
      auto& out = (*response->mutable_regions())[r.name];
      out.set_name(r.name);
      out.set_key(r.key);
      out.set_offset(r.offset);
      out.set_byte_size(r.byte_size);
    }
    return Answer(ctx, "SystemSharedMemoryStatus", Status::Ok());
  }

  ServerUnaryReactor* SystemSharedMemoryRegister(CallbackServerContext* ctx,
                                                 const SystemSharedMemoryRegisterRequest* request,
                                                 SystemSharedMemoryRegisterResponse*) override {
    return Answer(ctx, "SystemSharedMemoryRegister",
                  service_.shared_memory().Register(request->name(), request->key(),
                                                    request->offset(), request->byte_size()));
  }

  ServerUnaryReactor* SystemSharedMemoryUnregister(
      CallbackServerContext* ctx, const SystemSharedMemoryUnregisterRequest* request,
      SystemSharedMemoryUnregisterResponse*) override {
    Status s = Status::Ok();
    if (request->name().empty()) {
      service_.shared_memory().UnregisterAll();
    } else {
      s = service_.shared_memory().Unregister(request->name());
    }
    return Answer(ctx, "SystemSharedMemoryUnregister", s);
  }

  ServerUnaryReactor* CudaSharedMemoryStatus(CallbackServerContext* ctx,
                                             const CudaSharedMemoryStatusRequest*,
                                             CudaSharedMemoryStatusResponse*) override {
    return Answer(ctx, "CudaSharedMemoryStatus", Unimplemented(kCudaSharedMemoryUnsupported));
  }
  ServerUnaryReactor* CudaSharedMemoryRegister(CallbackServerContext* ctx,
                                               const CudaSharedMemoryRegisterRequest*,
                                               CudaSharedMemoryRegisterResponse*) override {
    return Answer(ctx, "CudaSharedMemoryRegister", Unimplemented(kCudaSharedMemoryUnsupported));
  }
  ServerUnaryReactor* CudaSharedMemoryUnregister(CallbackServerContext* ctx,
                                                 const CudaSharedMemoryUnregisterRequest*,
                                                 CudaSharedMemoryUnregisterResponse*) override {
    return Answer(ctx, "CudaSharedMemoryUnregister", Unimplemented(kCudaSharedMemoryUnsupported));
  }

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ModelStreamInfer(
      CallbackServerContext*) override {
    return grpc_infer::NewStreamInferReactor(service_);
  }

 private:
  Status CheckModel(const std::string& model, const std::string& version) const {
    BW_RETURN_IF_ERROR(InferenceService::CheckModelName(model));
    return service_.CheckModelVersion(model, version);
  }

  // Load or unload as HTTP's repository routes do: the same authorization, then the admin
  // thread; the call is finished from there, so no gRPC thread waits for the load.
  ServerUnaryReactor* Repository(CallbackServerContext* ctx, const char* method,
                                 InferenceService::RepositoryAction action,
                                 const std::string& repository, const std::string& model,
                                 std::string config_json = "") {
    const std::optional<std::string> authorization = Authorization(*ctx);
    Status s = service_.AuthorizeAdmin(authorization ? &*authorization : nullptr);
    if (s.ok()) s = CheckRepositoryName(repository);
    if (s.ok()) s = InferenceService::CheckModelName(model);
    if (!s.ok()) return Answer(ctx, method, s);
    ServerUnaryReactor* reactor = ctx->DefaultReactor();
    service_.PostRepositoryAction(
        action, model,
        [this, reactor, method](Status done) {
          Record(method, done);
          reactor->Finish(ToGrpcStatus(done));
        },
        std::move(config_json));
    return reactor;
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

  InferenceService& service_;
};

ServerUnaryReactor* GrpcHandlers::ModelInfer(CallbackServerContext* ctx,
                                                 const grpc::ByteBuffer* raw,
                                                 grpc::ByteBuffer* out) {
  const TimePoint start = service_.clock().Now();
  ModelInferRequest request;
  Status s = grpc_infer::ParseInferRequest(*raw, request);
  if (!s.ok()) return Answer(ctx, "ModelInfer", s);
  const std::string model = request.model_name();
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  s = grpc_infer::SubmitInfer(
      service_, request, [this, reactor, out, model, start](Status s, ModelInferResponse& r) {
        bool own = false;
        if (s.ok() &&
            !grpc::SerializationTraits<ModelInferResponse>::Serialize(r, out, &own).ok()) {
          s = Internal("the response could not be serialized");
        }
        grpc_infer::RecordOutcome(service_, "ModelInfer", model, s, start);
        reactor->Finish(ToGrpcStatus(s));
      });
  if (!s.ok()) {
    grpc_infer::RecordOutcome(service_, "ModelInfer", model, s, start);
    reactor->Finish(ToGrpcStatus(s));
  }
  return reactor;
}

}  // namespace

class GrpcServer::Impl {
 public:
  explicit Impl(InferenceService& service, const Options& options)
      : handlers_(service), options_(options) {}

  Status Start() {
    // gRPC logs its own error tree for a port it cannot bind: check first, say it in one line.
    BW_RETURN_IF_ERROR(CheckCanListen(options_.host, options_.port, options_.port_flag));
    grpc::ServerBuilder b;
    const std::string address = options_.host + ":" + std::to_string(options_.port);
    b.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
    b.SetMaxReceiveMessageSize(options_.max_message_bytes);
    b.SetMaxSendMessageSize(options_.max_message_bytes);
    b.RegisterService(&handlers_);
    server_ = b.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      server_.reset();
      return ListenError(options_.host, options_.port, options_.port_flag, "gRPC cannot bind it");
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
  GrpcHandlers handlers_;
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
                                                       InferenceService& service) {
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
