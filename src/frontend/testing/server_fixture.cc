#include "frontend/testing/server_fixture.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "backend/testing/model_repo.h"
#include "serving/testing/scheduler_harness.h"

namespace batchwise::testing {
namespace {

namespace fs = std::filesystem;

void WriteModel(const fs::path& repo, const std::string& name) {
  fs::create_directories(repo / name);
  std::ofstream(repo / name / "config.json")
      << R"({"name": ")" << name << R"(", "max_batch_size": 8,
  "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
  "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}],
  "engines": {"onnx": {"file": "model.onnx"}}})";
  std::ofstream(repo / name / "model.onnx") << "fake";
}

std::string TempRepository() {
  static std::atomic<int> n{0};
  const fs::path p = fs::temp_directory_path() /
                     ("bw_http_repo_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  fs::remove_all(p);
  WriteModel(p, "tiny");
  WriteModel(p, "spare");
  return p.string();
}

}  // namespace

FakeModelServer::FakeModelServer(FakeServerOptions o)
    : repository_(TempRepository()), factory_(o.engine) {
  ServerOptions so;
  so.model_repository = repository_;
  so.models = o.models;
  so.overcommit = o.overcommit;
  so.http.port = 0;
  so.http.threads = o.http_threads;
  so.http.max_body_bytes = o.max_body_bytes;
  so.http.max_header_bytes = o.max_header_bytes;
  so.http.shutdown_grace_ms = o.shutdown_grace_ms;
  so.metrics.port = o.metrics_port;
  so.metrics.gpus = o.gpus;
  so.grpc.port = o.grpc_port;
  so.grpc.max_message_bytes = o.grpc_max_message_bytes;
  so.grpc.shutdown_grace_ms = o.shutdown_grace_ms;
  so.service.admin_token = o.admin_token;
  so.profiles_dir = "";
  so.scheduler = ImmediateOptions();
  so.scheduler.rebalance_period_ms = 0;
  so.scheduler.warmup_batches = o.warmup_batches;
  so.scheduler.batching.max_queue_size = o.max_queue_size;
  so.scheduler.batching.controller.latency_target_micros = o.latency_target_micros;
  so.scheduler.batching.controller.policy = o.policy;
  so.scheduler.batching.max_queue_delay_micros = o.max_queue_delay_micros;
  so.scheduler.batching.controller.max_batch_size = 8;
  so.scheduler.views.unprofiled_max_instances = 4;
  so.frontend_cores = o.frontend_cores;
  std::vector<Processor> processors;
  for (int i = 0; i < o.cpu_processors; ++i) {
    processors.push_back(CpuProcessor("cpu:" + std::to_string(i), {i}));
  }
  auto s = Server::Create(so, o.clock ? *o.clock : SystemClock(), factory_.AsFactory(),
                          std::move(processors));
  if (!s.ok()) throw std::runtime_error(s.status().ToString());
  server_ = std::move(s).value();
}

FakeModelServer::~FakeModelServer() {
  server_.reset();
  std::error_code ec;
  fs::remove_all(repository_, ec);
}

ServerOptions RealMlpServerOptions(const std::string& table_subdir, int grpc_port) {
  return RealModelServerOptions("mlp_forecaster", table_subdir, grpc_port);
}

ServerOptions RealModelServerOptions(const std::string& model, const std::string& table_subdir,
                                     int grpc_port) {
  ServerOptions o;
  o.model_repository = ModelsDir();
  o.models = {model};
  o.processors = "cpu:*";
  o.profiles_dir = "";
  o.http.port = 0;
  o.grpc.port = grpc_port;
  o.metrics.port = -1;
  o.scheduler.rebalance_period_ms = 0;
  o.scheduler.batching.controller.policy = BatchPolicy::kQueueDelay;
  o.scheduler.batching.max_queue_delay_micros = 500;
  o.table_dir = (std::filesystem::temp_directory_path() / table_subdir).string();
  return o;
}

}  // namespace batchwise::testing
