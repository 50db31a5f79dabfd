// GrpcClient: the load generator's KServe v2 gRPC client (proto/grpc_service.proto) on gRPC's
// callback stub: calls are asynchronous and complete on gRPC's own threads, so one sender keeps
// many in flight without a thread each. Calls go round-robin over `channels` channels, each with
// its own TCP connection (HTTP/2 multiplexes the calls of one channel).
//
// Thread-safety: every method may be called from any thread, Infer() from a completion callback
// too. Callbacks run on gRPC's threads and must not block for long. The destructor cancels the
// calls still in flight (they complete with CANCELLED) and waits for their callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "common/status.h"
#include "loadgen/driver.h"

namespace inference {
class ModelInferRequest;
class ModelInferResponse;
}  // namespace inference

namespace batchwise {

class GrpcClient {
 public:
  struct Options {
    // host:port of the server's gRPC endpoint.
    std::string target = "127.0.0.1:8001";
    // Channels (TCP connections) the calls are spread over.
    int channels = 1;
    // A call not answered this long after it was started fails with DEADLINE_EXCEEDED, ms.
    int64_t timeout_ms = 60'000;
    // Largest message sent or received, bytes.
    int max_message_bytes = 64 << 20;

    Status Validate() const;
  };

  // The call's status (the server's, mapped back by StatusCodeForGrpcCode, or the transport's)
  // and, when OK, the response.
  using InferCallback =
      std::function<void(Status, std::shared_ptr<const inference::ModelInferResponse>)>;

  // Creates the channels; connects lazily.
  static Result<std::unique_ptr<GrpcClient>> Create(const Options& options);
  ~GrpcClient();
  GrpcClient(const GrpcClient&) = delete;
  GrpcClient& operator=(const GrpcClient&) = delete;

  // Sends `request` (shared, not copied: calls may reuse one request).
  void Infer(std::shared_ptr<const inference::ModelInferRequest> request, InferCallback done);
  // Blocking: the model's metadata as the HTTP endpoint's JSON would give it
  // ({"name", "versions", "platform", "inputs": [{"name", "datatype", "shape"}], "outputs"}).
  Result<nlohmann::json> ModelMetadata(const std::string& model);
  // Blocking: ServerReady's answer.
  Result<bool> ServerReady();

  class Impl;

 private:
  explicit GrpcClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The same request BuildInferRequest (kserve_load.h) builds for HTTP, the same seeded tensors
// byte for byte, as a ModelInferRequest with raw_input_contents.
Result<std::shared_ptr<const inference::ModelInferRequest>> BuildGrpcInferRequest(
    const nlohmann::json& metadata, int batch, uint64_t seed);

// Fetches the model's metadata over gRPC and builds its request.
Result<std::shared_ptr<const inference::ModelInferRequest>> PrepareGrpcInferRequest(
    GrpcClient& client, const std::string& model, int batch, uint64_t seed);

// Sends `request` through `client`; the outcome is the call's status.
SendFn GrpcInferSender(GrpcClient& client,
                       std::shared_ptr<const inference::ModelInferRequest> request);

}  // namespace batchwise
