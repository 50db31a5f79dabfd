// `batchwise serve`: the model repository over KServe v2 HTTP and gRPC, with Prometheus metrics,
// until SIGINT or SIGTERM (then: stop accepting, answer every accepted request, exit 0).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>

#include "batching/batch_controller.h"
#include "cli/commands.h"
#include "frontend/server.h"

namespace batchwise::cli {
namespace {

struct ServeArgs {
  ServerOptions server;
  std::string policy;  // empty: the batcher's default (trend)
  int64_t latency_target_us = 0;
  int step_size = 0;
};

// Serving defaults that differ from the library's: several models may share a processor that
// has no profile (the library's fallback is 1 instance), and re-placement runs.
ServeArgs Defaults() {
  ServeArgs a;
  a.server.scheduler.views.unprofiled_max_instances = 4;
  return a;
}

void AddHttpFlags(CLI::App* cmd, ServeArgs& a) {
  auto& h = a.server.http;
  cmd->add_option("--model-repository", a.server.model_repository, "Model repository folder")
      ->capture_default_str();
  cmd->add_option("--models", a.server.models, "Models to load at start (default: all)")
      ->delimiter(',');
  cmd->add_option("--host", h.host, "Address to listen on (0.0.0.0: every interface)")
      ->capture_default_str();
  cmd->add_option("--http-port", h.port, "KServe v2 HTTP port (0: any free port)")
      ->capture_default_str();
  cmd->add_option("--grpc-port", a.server.grpc.port,
                  "KServe v2 gRPC port (0: any free port, -1: no gRPC endpoint)")
      ->capture_default_str();
  cmd->add_option("--grpc-max-message-bytes", a.server.grpc.max_message_bytes,
                  "Largest gRPC request or response message (RESOURCE_EXHAUSTED above)")
      ->capture_default_str();
  cmd->add_option("--metrics-port", a.server.metrics.port, "Prometheus port (-1: none)")
      ->capture_default_str();
  cmd->add_option("--http-threads", h.threads, "HTTP (Asio) threads")->capture_default_str();
  cmd->add_option("--max-header-bytes", h.max_header_bytes, "Largest request header (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", h.max_body_bytes, "Largest request body (413 above)")
      ->capture_default_str();
  cmd->add_option("--idle-timeout-ms", h.idle_timeout_ms, "Close idle kept-alive connections after")
      ->capture_default_str();
  cmd->add_option("--http-request-timeout-ms", h.io_timeout_ms,
                  "Receive a whole request once its first byte came (and write a response) "
                  "within this, else the connection is closed")
      ->capture_default_str();
  cmd->add_option("--http-max-connections", h.max_connections,
                  "HTTP connections served at once (503 and close above; keep under ulimit -n)")
      ->capture_default_str();
  cmd->add_option("--shutdown-grace-ms", h.shutdown_grace_ms,
                  "On SIGTERM, wait this long for requests in flight (HTTP and gRPC)")
      ->capture_default_str();
  cmd->add_option("--admin-token", a.server.service.admin_token,
                  "Require 'Authorization: Bearer <token>' for repository load/unload")
      ->envname("BATCHWISE_ADMIN_TOKEN");
}

void AddPlacementFlags(CLI::App* cmd, ServeArgs& a) {
  auto& s = a.server.scheduler;
  cmd->add_option("-p,--processors", a.server.processors,
                  "CPU processors: cpu, cpu:N, cpu:N-M, cpu:*, cpu/K (docs/processors.md)")
      ->capture_default_str();
  cmd->add_option("--simulated", a.server.simulated,
                  "Simulated processor declarations (e.g. data/processors/simulated.json)");
  cmd->add_option("--profiles", a.server.profiles_dir, "Stored load-performance tables")
      ->capture_default_str();
  cmd->add_option("--w-util", s.weights.utilization, "Workload weight w_u")->capture_default_str();
  cmd->add_option("--w-mem", s.weights.memory, "Workload weight w_m")->capture_default_str();
  cmd->add_option("--w-cap", s.weights.capability, "Workload weight w_c")->capture_default_str();
  cmd->add_option("--rebalance-period-ms", s.rebalance_period_ms, "Re-placement step (0: off)")
      ->capture_default_str();
  cmd->add_option("--unprofiled-max-instances", s.views.unprofiled_max_instances,
                  "Instance limit of a processor without a profile")
      ->capture_default_str();
  cmd->add_flag("!--no-overcommit", a.server.overcommit,
                "Refuse a model when every processor is at its instance limit");
}

void AddBatchingFlags(CLI::App* cmd, ServeArgs& a) {
  auto& b = a.server.scheduler.batching;
  cmd->add_option("--batch-policy", a.policy, "fixed, queue_delay, aimd, trend (default trend)");
  cmd->add_option("--max-queue-delay-us", b.max_queue_delay_micros, "Batch wait budget (cap)")
      ->capture_default_str();
  cmd->add_option("--max-queue-size", b.max_queue_size, "Samples that may wait (503 above)")
      ->capture_default_str();
  cmd->add_option("--default-timeout-us", b.default_timeout_micros,
                  "Queue timeout of a request (504; 0: none)")
      ->capture_default_str();
  cmd->add_option("--latency-target-us", a.latency_target_us,
                  "Batch latency target of aimd/trend when the model sets none");
  cmd->add_option("--step-size", a.step_size, "δ of aimd/trend");
  cmd->add_option("--batch-size", b.controller.fixed.batch_size, "Batch size of the fixed policy");
}

int RunServe(ServeArgs& a) {
  auto& c = a.server.scheduler.batching.controller;
  if (!a.policy.empty()) {
    auto p = ParseBatchPolicy(a.policy);
    if (!p.ok()) {
      spdlog::error("{}", p.status().ToString());
      return 2;
    }
    c.policy = *p;
  }
  if (a.latency_target_us > 0) c.latency_target_micros = a.latency_target_us;
  if (a.step_size > 0) c.step_size = a.step_size;
  a.server.grpc.shutdown_grace_ms = a.server.http.shutdown_grace_ms;
  // Signals are taken by sigwait below: block them before any thread starts (threads inherit it).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto server = Server::Create(a.server, SystemClock());
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  spdlog::info("serving; Ctrl-C or SIGTERM stops gracefully");
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: stopping (answering requests in flight)", sig);
  (*server)->Shutdown();
  server->reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

Command AddServeCommand(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>(Defaults());
  auto* cmd =
      app.add_subcommand("serve", "Serve the model repository over KServe v2 (HTTP and gRPC)");
  AddHttpFlags(cmd, *args);
  AddPlacementFlags(cmd, *args);
  AddBatchingFlags(cmd, *args);
  return [args] { return RunServe(*args); };
}

}  // namespace batchwise::cli
