// ServerMetrics: Batchwise's Prometheus metrics (prometheus-cpp), served as text on the metrics
// port. Every metric is declared in one list (metrics.cc, kCatalogue) and documented in
// docs/metrics.md. Two families: Batchwise's own ("batchwise_*") and Triton's ("nv_*": the same
// names, labels, types and units as Triton's, so its dashboards and alerts work unchanged).
//
// Two kinds: counters and histograms the frontend updates per request (Record*), and gauges and
// counters read from the scheduler's views at each scrape (a prometheus::Collectable), so the
// serving layers need no metrics code. Thread-safe: Record* from any thread, scrapes on the
// exposer's threads. Owns the exposer (civetweb threads), stopped in the destructor. The
// scheduler must outlive it (or be detached with Attach(nullptr) first).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace batchwise {

class Scheduler;

// One GPU as the nv_gpu_* gauges show it.
struct GpuGauges {
  std::string uuid;        // the gpu_uuid label ("GPU-...")
  double utilization = 0;  // [0,1]
  uint64_t memory_used_bytes = 0;
  uint64_t memory_total_bytes = 0;
};
// Read at each scrape.
using GpuGaugeSource = std::function<std::vector<GpuGauges>()>;

class ServerMetrics {
 public:
  struct Options {
    // Address of the metrics listener ("127.0.0.1"); its port: 0 picks a free one, -1 serves no
    // listener (Scrape() still works).
    std::string host = "127.0.0.1";
    int port = 8002;
    // The flag that set `port`, named when it cannot be taken.
    std::string port_flag = "--metrics-port";
    // The nv_gpu_* gauges' source; null: NVML's GPUs when the NVIDIA driver is there, else none.
    GpuGaugeSource gpus;
  };

  static Result<std::unique_ptr<ServerMetrics>> Create(const Options& options);
  ~ServerMetrics();

  // The scheduler whose state the scrape reads; null detaches it.
  void Attach(const Scheduler* scheduler);

  // One HTTP request answered: `endpoint` a fixed route name ("infer", "health", ...).
  void RecordHttp(const std::string& endpoint, int http_status);
  // One gRPC call answered: `method` the RPC's name ("ModelInfer", ...), `code` its status code's
  // name ("OK", "NOT_FOUND", ...).
  void RecordGrpc(const std::string& method, const std::string& code);
  // One inference request of a loaded model (either protocol) finished (any outcome), end to end in
  // the frontend.
  void RecordInfer(const std::string& model, bool ok, Duration duration);

  // The Prometheus text exposition of everything, as a scrape would see it.
  std::string Scrape() const;
  // The listener's port; -1 when none.
  int port() const;

  struct Impl;

 private:
  explicit ServerMetrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Every metric name with its type and help text (for docs and tests).
struct MetricInfo {
  std::string name;
  std::string type;
  std::string help;
};
const std::vector<MetricInfo>& MetricCatalogue();

}  // namespace batchwise
