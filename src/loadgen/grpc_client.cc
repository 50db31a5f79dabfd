#include "loadgen/grpc_client.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_set>
#include <vector>

#include "common/thread_annotations.h"
#include "frontend/grpc_status.h"
#include "grpc_service.grpc.pb.h"
#include "loadgen/kserve_load.h"

namespace batchwise {

using json = nlohmann::json;
using inference::GRPCInferenceService;
using inference::ModelInferRequest;
using inference::ModelInferResponse;

class GrpcClient::Impl {
 public:
  explicit Impl(const Options& o) : options_(o) {
    for (int i = 0; i < o.channels; ++i) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(o.max_message_bytes);
      args.SetMaxSendMessageSize(o.max_message_bytes);
      // Each channel its own subchannel, hence its own connection (else channels with equal
      // arguments share one).
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("batchwise.channel", i);
      auto channel = grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
      stubs_.push_back(GRPCInferenceService::NewStub(channel));
    }
  }

  ~Impl() {
    std::unique_lock<std::mutex> l(mu_);
    closing_ = true;
    for (Call* c : calls_) c->context.TryCancel();
    drained_.wait(l, [this] { return in_flight_ == 0; });
  }

  void Infer(std::shared_ptr<const ModelInferRequest> request, InferCallback done) {
    auto* call =
        new Call{{}, std::move(request), std::make_shared<ModelInferResponse>(), std::move(done)};
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::milliseconds(options_.timeout_ms));
    {
      std::unique_lock<std::mutex> l(mu_);
      if (closing_) {  // a completion callback sending again while the client is destroyed
        l.unlock();
        call->done(Cancelled("the gRPC client is shutting down"), nullptr);
        delete call;
        return;
      }
      calls_.insert(call);
      ++in_flight_;
    }
    GRPCInferenceService::Stub& stub = NextStub();
    stub.async()->ModelInfer(&call->context, call->request.get(), call->response.get(),
                             [this, call](grpc::Status s) { Complete(call, s); });
  }

  Result<json> ModelMetadata(const std::string& model) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(options_.timeout_ms));
    inference::ModelMetadataRequest req;
    req.set_name(model);
    inference::ModelMetadataResponse resp;
    BW_RETURN_IF_ERROR(FromGrpcStatus(NextStub().ModelMetadata(&ctx, req, &resp)));
    auto tensors = [](const auto& list) {
      json out = json::array();
      for (const auto& t : list) {
        out.push_back({{"name", t.name()},
                       {"datatype", t.datatype()},
                       {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())}});
      }
      return out;
    };
    return json{
        {"name", resp.name()},
        {"versions", std::vector<std::string>(resp.versions().begin(), resp.versions().end())},
        {"platform", resp.platform()},
        {"inputs", tensors(resp.inputs())},
        {"outputs", tensors(resp.outputs())}};
  }

  Result<bool> ServerReady() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(options_.timeout_ms));
    inference::ServerReadyResponse resp;
    BW_RETURN_IF_ERROR(FromGrpcStatus(NextStub().ServerReady(&ctx, {}, &resp)));
    return resp.ready();
  }

 private:
  struct Call {
    grpc::ClientContext context;
    std::shared_ptr<const ModelInferRequest> request;
    std::shared_ptr<ModelInferResponse> response;
    InferCallback done;
  };

  GRPCInferenceService::Stub& NextStub() {
    return *stubs_[next_.fetch_add(1, std::memory_order_relaxed) % stubs_.size()];
  }

  // Runs on a gRPC callback thread. The call (its ClientContext holds a reference to the
  // channel) is deleted before the destructor can see in_flight_ reach 0: were the last channel
  // reference dropped here instead, gRPC would shut its callback thread pool down from one of
  // its own threads (grpc/grpc#32584), which aborts.
  void Complete(Call* call, const grpc::Status& s) {
    Status status = FromGrpcStatus(s);
    call->done(status, status.ok() ? std::move(call->response) : nullptr);
    {
      std::lock_guard<std::mutex> l(mu_);
      calls_.erase(call);  // no longer to be cancelled
    }
    delete call;
    std::lock_guard<std::mutex> l(mu_);
    if (--in_flight_ == 0) drained_.notify_all();
  }

  const Options options_;
  std::vector<std::unique_ptr<GRPCInferenceService::Stub>> stubs_;
  std::atomic<uint64_t> next_{0};
  std::mutex mu_;
  std::condition_variable drained_;
  std::unordered_set<Call*> calls_ GUARDED_BY(mu_);
  size_t in_flight_ GUARDED_BY(mu_) = 0;  // calls_ plus those completing, not yet deleted
  bool closing_ GUARDED_BY(mu_) = false;
};

Status GrpcClient::Options::Validate() const {
  if (target.empty() || target.find(':') == std::string::npos) {
    return InvalidArgument("gRPC target '" + target + "' is not host:port");
  }
  if (channels < 1) return InvalidArgument("gRPC channels must be >= 1");
  if (timeout_ms <= 0) return InvalidArgument("gRPC timeout must be > 0 ms");
  if (max_message_bytes < 1024) return InvalidArgument("gRPC max message must be >= 1024 bytes");
  return Status::Ok();
}

Result<std::unique_ptr<GrpcClient>> GrpcClient::Create(const Options& options) {
  BW_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<GrpcClient>(new GrpcClient(std::make_unique<Impl>(options)));
}

GrpcClient::GrpcClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcClient::~GrpcClient() = default;

void GrpcClient::Infer(std::shared_ptr<const ModelInferRequest> request, InferCallback done) {
  impl_->Infer(std::move(request), std::move(done));
}

Result<json> GrpcClient::ModelMetadata(const std::string& model) {
  return impl_->ModelMetadata(model);
}

Result<bool> GrpcClient::ServerReady() { return impl_->ServerReady(); }

Result<std::shared_ptr<const ModelInferRequest>> BuildGrpcInferRequest(const json& metadata,
                                                                       int batch, uint64_t seed) {
  BW_ASSIGN_OR_RETURN(EncodedInferRequest http, BuildInferRequest(metadata, batch, seed));
  // The HTTP request's JSON header lists the inputs in order, each with its binary size; their
  // bytes follow the header in the same order.
  const json header = json::parse(http.body->substr(0, http.json_size));
  auto out = std::make_shared<ModelInferRequest>();
  out->set_model_name(metadata["name"].get<std::string>());
  size_t at = http.json_size;
  for (const json& in : header["inputs"]) {
    auto* t = out->add_inputs();
    t->set_name(in["name"].get<std::string>());
    t->set_datatype(in["datatype"].get<std::string>());
    for (int64_t d : in["shape"].get<std::vector<int64_t>>()) t->add_shape(d);
    const size_t size = in["parameters"]["binary_data_size"].get<size_t>();
    out->add_raw_input_contents(http.body->substr(at, size));
    at += size;
  }
  return std::shared_ptr<const ModelInferRequest>(std::move(out));
}

Result<std::shared_ptr<const ModelInferRequest>> PrepareGrpcInferRequest(GrpcClient& client,
                                                                         const std::string& model,
                                                                         int batch, uint64_t seed) {
  auto metadata = client.ModelMetadata(model);
  if (!metadata.ok()) return metadata.status().WithContext("metadata of '" + model + "'");
  return BuildGrpcInferRequest(*metadata, batch, seed);
}

SendFn GrpcInferSender(GrpcClient& client, std::shared_ptr<const ModelInferRequest> request) {
  return [&client, request](uint64_t, std::function<void(Status)> done) {
    client.Infer(request, [done = std::move(done)](
                              Status s, std::shared_ptr<const ModelInferResponse>) { done(s); });
  };
}

}  // namespace batchwise
