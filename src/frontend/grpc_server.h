// GrpcServer: the KServe v2 gRPC endpoint (proto/grpc_service.proto, service
// inference.GRPCInferenceService) on gRPC's callback API: an adapter over the InferenceService
// (service/inference_service.h), the one the HTTP routes use, so validation, errors, statistics
// and the per-model metrics are those of HTTP; each RPC only translates its messages.
// docs/grpc-api.md lists the RPCs and their status codes.
//
// No thread waits for an inference: ModelInfer, and each request of a ModelStreamInfer stream
// (grpc_infer.h), hands the decoded request to the scheduler and the scheduler's callback
// answers it from its batching thread. Request tensors are moved
// out of the request message (a message allocator gives the server its own, mutable request),
// never copied, when they arrive as raw_input_contents.
//
// Thread-safety: the RPCs run on gRPC's threads; Shutdown() and the destructor belong to the
// owner. The service (and the scheduler behind it) must outlive the server; Shutdown() returns
// once every call is answered, so stop the scheduler after it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace batchwise {

class InferenceService;

class GrpcServer {
 public:
  struct Options {
    // Address to listen on; empty: the HTTP endpoint's host.
    std::string host;
    // Port; 0 picks a free one (port() tells which). The Server starts no gRPC endpoint at -1.
    int port = 8001;
    // The flag that set `port`, named when it cannot be taken.
    std::string port_flag = "--grpc-port";
    // Largest request and response message, bytes (RESOURCE_EXHAUSTED above, from gRPC itself).
    int max_message_bytes = 64 << 20;
    // On Shutdown(), how long calls in flight may still finish before gRPC cancels them, ms.
    int64_t shutdown_grace_ms = 10'000;

    Status Validate() const;
  };

  // Binds and starts serving; UNAVAILABLE when the address cannot be bound.
  static Result<std::unique_ptr<GrpcServer>> Create(const Options& options,
                                                    InferenceService& service);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Stops accepting calls and waits for the ones in flight (at most shutdown_grace_ms, then they
  // are cancelled); idempotent.
  void Shutdown();
  int port() const;

  class Impl;

 private:
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace batchwise
