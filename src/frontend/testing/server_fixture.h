// Test fixtures for the HTTP frontend: a real Server on an ephemeral port over a temporary model
// repository of tiny models served by fake engines (serving/testing/fake_engine.h), so the whole
// HTTP path is exercised in milliseconds. Not thread-safe; one per test.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/server.h"
#include "serving/testing/fake_engine.h"

namespace batchwise::testing {

struct FakeServerOptions {
  FakeEngineOptions engine;
  int max_queue_size = 64;
  // The models' latency target (the batcher's default; tiny's config sets none). Admission by
  // time refuses against it, with predictions from the warm-up, which a slow (sanitizer) build
  // can make long: a test that queues many requests on purpose raises it.
  int64_t latency_target_micros = 50'000;
  std::string admin_token;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 8 * 1024;
  int64_t shutdown_grace_ms = 10'000;
  int http_threads = 2;
  // -1: no metrics listener (civetweb takes up to 2 s to stop); 0: an ephemeral port.
  int metrics_port = -1;
  // The nv_gpu_* gauges' source (ServerMetrics::Options::gpus); null: NVML's, if any.
  GpuGaugeSource gpus;
  // -1: no gRPC endpoint; 0: an ephemeral port.
  int grpc_port = -1;
  int grpc_max_message_bytes = 64 << 20;
  // The server's clock (the engines wait on it); null: the system clock. A fake clock's test
  // moves it; then set warmup_batches to 0, or loading waits for a warm-up nobody times.
  Clock* clock = nullptr;
  int warmup_batches = 1;
  // Batching: dispatch what is queued, no wait, unless a test asks for another policy.
  BatchPolicy policy = BatchPolicy::kQueueDelay;
  int64_t max_queue_delay_micros = 0;
  // CPU processors cpu:0 (core 0) .. cpu:N-1 (core N-1); frontend_cores as in ServerOptions.
  int cpu_processors = 2;
  std::string frontend_cores = "auto";
  // Models loaded at start (ServerOptions::models).
  std::vector<std::string> models = {"tiny"};
  bool overcommit = true;  // ServerOptions::overcommit
};

// Repository: "tiny" (x FP32 [-1,4] -> y FP32 [-1,2], max batch 8; loaded) and "spare" (same
// shape; in the repository, not loaded at start).
class FakeModelServer {
 public:
  explicit FakeModelServer(FakeServerOptions options = {});
  ~FakeModelServer();

  Server& server() { return *server_; }
  int port() const { return server_->http_port(); }
  int grpc_port() const { return server_->grpc_port(); }
  const std::string& repository() const { return repository_; }
  void Shutdown() { server_->Shutdown(); }

 private:
  std::string repository_;
  FakeEngineFactory factory_;
  std::unique_ptr<Server> server_;
};

// The generated mlp_forecaster on the production engine factory (queue_delay batching with a
// 500 us wait, HTTP on an ephemeral port, no metrics listener, no re-placement), its tables in
// <tmp>/<table_subdir>; `grpc_port` as in FakeServerOptions. The caller creates the Server.
ServerOptions RealMlpServerOptions(const std::string& table_subdir, int grpc_port = -1);
// The same for any generated model.
ServerOptions RealModelServerOptions(const std::string& model, const std::string& table_subdir,
                                     int grpc_port = -1);

}  // namespace batchwise::testing
