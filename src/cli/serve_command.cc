// `batchwise serve`: the model repository over KServe v2 HTTP and gRPC, with Prometheus metrics,
// until SIGINT or SIGTERM (then: stop accepting, answer every accepted request, exit 0).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>

#include "batching/batch_controller.h"
#include "cli/commands.h"
#include "app/server.h"
#include "profile/reference.h"

namespace batchwise::cli {
namespace {

struct ServeArgs {
  ServerOptions server;
  std::string policy = std::string(BatchPolicyName(ControllerOptions{}.policy));
};

// Serving defaults that differ from the library's: several models may share a processor that
// has no profile (the library's fallback is 1 instance), re-placement runs, and a processor
// without a stored table is profiled before anything is placed (S1), its table kept in the
// user's state folder.
ServeArgs Defaults() {
  ServeArgs a;
  a.server.scheduler.views.unprofiled_max_instances = 4;
  a.server.profiles_dir = DefaultProfileDir();
  a.server.measure_profiles = true;
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
  cmd->add_option("--frontend-cores", a.server.frontend_cores,
                  "Cores for the HTTP/gRPC/metrics threads: auto (the allowed cores no cpu "
                  "processor holds, if any), all, or a list (1,3-4)")
      ->capture_default_str();
  cmd->add_option("--simulated", a.server.simulated,
                  "Simulated processor declarations (e.g. data/processors/simulated.json)");
  cmd->add_option("--profiles", a.server.profiles_dir,
                  "Stored load-performance tables of the reference model (found, and saved when "
                  "measured at start)")
      ->capture_default_str();
  cmd->add_flag("!--no-profile", a.server.measure_profiles,
                "Do not measure a processor that has no stored table (its P is then 0 and "
                "placement's performance term is off)");
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

// The defaults of every model's batching; a model's config.json overrides them per model
// (docs/model-repository.md lists its keys).
void AddBatchingFlags(CLI::App* cmd, ServeArgs& a) {
  auto& b = a.server.scheduler.batching;
  auto& c = b.controller;
  cmd->add_option("--batch-policy", a.policy, "fixed, queue_delay, aimd, trend")
      ->capture_default_str();
  cmd->add_option("--max-queue-delay-us", b.max_queue_delay_micros,
                  "Longest wait of the oldest request for a fuller batch, µs; 0 = do not wait. "
                  "fixed/queue_delay only: aimd/trend never wait")
      ->capture_default_str();
  cmd->add_option("--max-queue-size", b.max_queue_size, "Samples that may wait (503 above)")
      ->capture_default_str();
  cmd->add_option("--default-timeout-us", b.default_timeout_micros,
                  "Queue timeout of a request, µs (504; 0: none)")
      ->capture_default_str();
  cmd->add_option("--latency-target-us", c.latency_target_micros,
                  "Latency target of aimd/trend, µs, for a model whose config sets none")
      ->capture_default_str();
  cmd->add_option("--required-throughput-per-s", c.required_throughput_per_s,
                  "Throughput (samples/s) a settled trend size must reach (S406); 0 = none")
      ->capture_default_str();
  cmd->add_option("--batch-step-size,--step-size", c.step_size,
                  "δ: the additive step of aimd/trend, samples")
      ->capture_default_str();
  cmd->add_option("--trend-window", c.trend.window,
                  "n: recent batch sizes in trend's Mann–Kendall test, batches [5, 1024]")
      ->capture_default_str();
  cmd->add_option("--trend-alpha", c.trend.alpha, "α: significance of trend's test, (0, 1)")
      ->capture_default_str();
  cmd->add_option("--reversal-confirmations", c.trend.reversal_confirmations,
                  "Consecutive signals against a significant trend before trend reverses, >= 1")
      ->capture_default_str();
  cmd->add_option("--min-batch-size", c.min_batch_size, "Smallest adaptive batch size, samples")
      ->capture_default_str();
  cmd->add_option("--initial-batch-size", c.initial_batch_size,
                  "Batch size aimd/trend start from, samples")
      ->capture_default_str();
  cmd->add_option("--batch-size", c.fixed.batch_size, "Batch size of the fixed policy, samples")
      ->capture_default_str();
}

int RunServe(ServeArgs& a) {
  auto& b = a.server.scheduler.batching;
  auto p = ParseBatchPolicy(a.policy);
  if (!p.ok()) {
    spdlog::error("--batch-policy: {}", p.status().ToString());
    return 2;
  }
  b.controller.policy = *p;
  if (Status s = b.Validate(); !s.ok()) {  // as Scheduler::Create() would, but as a usage error
    spdlog::error("invalid batching flags: {}", s.ToString());
    return 2;
  }
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
