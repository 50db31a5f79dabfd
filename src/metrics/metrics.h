// ServerMetrics: Batchwise's Prometheus metrics (prometheus-cpp), served as text on the metrics
// port. Every metric is declared in one list (metrics.cc, kCatalogue) and documented in
// docs/http-api.md; all names start with "batchwise_".
//
// Two kinds: counters and histograms the frontend updates per request (Record*), and gauges and
// counters read from the scheduler's views at each scrape (a prometheus::Collectable), so the
// serving layers need no metrics code. Thread-safe: Record* from any thread, scrapes on the
// exposer's threads. Owns the exposer (civetweb threads), stopped in the destructor. The
// scheduler must outlive it (or be detached with Attach(nullptr) first).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace batchwise {

class Scheduler;

class ServerMetrics {
 public:
  struct Options {
    // Address of the metrics listener ("127.0.0.1"); its port: 0 picks a free one, -1 serves no
    // listener (Scrape() still works).
    std::string host = "127.0.0.1";
    int port = 8002;
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
