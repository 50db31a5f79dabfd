// What the load generator needs of a KServe v2 server: an infer request built from a model's
// metadata (binary tensor extension), a SendFn that posts it, a time series of what the clients
// saw, and the server's batch controller state sampled while the load runs.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "loadgen/driver.h"
#include "loadgen/histogram.h"
#include "loadgen/http_client.h"

namespace batchwise {

// One model's request, encoded once and sent many times.
struct EncodedInferRequest {
  std::string target;                       // /v2/models/{m}/infer
  std::shared_ptr<const std::string> body;  // JSON header followed by the binary tensors
  size_t json_size = 0;                     // Inference-Header-Content-Length
};

// A request of `batch` samples for a model whose metadata (GET /v2/models/{m}) is `metadata`:
// every input filled with seeded values of its datatype (-1 dimensions after the first become 1),
// outputs asked for as binary data. BYTES inputs are refused (InvalidArgument): they need
// user-supplied content.
Result<EncodedInferRequest> BuildInferRequest(const nlohmann::json& metadata, int batch,
                                              uint64_t seed);

// Fetches the model's metadata from the server and builds its request.
Result<EncodedInferRequest> PrepareInferRequest(HttpClient& client, const std::string& model,
                                                int batch, uint64_t seed);

// Posts `request` through `client`; the outcome is StatusFromHttpResponse's.
SendFn InferSender(HttpClient& client, EncodedInferRequest request);

// Per-window counts and latencies of one run, by intended send time. Thread-safe.
class LoadTimeSeries {
 public:
  struct Window {
    double t_s = 0;  // window start, seconds since the run's start
    uint64_t ok = 0, within_slo = 0, errors = 0;
    LatencyHistogram latency;
  };
  LoadTimeSeries(TimePoint start, Duration window, Duration slo)
      : start_(start), window_(window), slo_(slo) {}

  void Record(TimePoint intended, TimePoint done, const Status& s) EXCLUDES(mu_);
  std::vector<Window> Take() const EXCLUDES(mu_);

 private:
  const TimePoint start_;
  const Duration window_;
  const Duration slo_;
  mutable std::mutex mu_;
  std::vector<Window> windows_ GUARDED_BY(mu_);
};

// Samples GET /v2/batchwise/models every period on its own thread, from construction until
// Stop(): each model's batch size, settled flag, Mann–Kendall Z and queued samples over time.
class ControllerPoller {
 public:
  struct Sample {
    double t_s = 0;  // since `start`
    std::string model;
    int batch_size = 0;
    bool settled = false;
    double z = 0;
    int64_t queued_samples = 0;
    int64_t direction_changes = 0;  // of the controller since the model was loaded
  };
  ControllerPoller(Clock& clock, HttpClient& client, TimePoint start, Duration period);
  ~ControllerPoller() { Stop(); }
  void Stop();
  std::vector<Sample> samples() const EXCLUDES(mu_);

 private:
  void PollOnce();

  Clock& clock_;
  HttpClient& client_;
  const TimePoint start_;
  mutable std::mutex mu_;
  std::vector<Sample> samples_ GUARDED_BY(mu_);
  std::jthread thread_;  // last: started after the members it uses
};

}  // namespace batchwise
