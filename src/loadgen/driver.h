// Load drivers: send requests through a SendFn at the times a schedule says (open loop) or as
// fast as N clients allow (closed loop), and report what the clients saw.
//
// Open loop avoids coordinated omission: every request has an intended send time; a request the
// driver could only send late is sent at once and its latency still counts from its intended time,
// so a stalled server shows up in the percentiles instead of silently lowering the offered load.
// Drivers block in Run() on the injected clock; the SendFn may complete on any thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "loadgen/arrivals.h"
#include "loadgen/histogram.h"

namespace batchwise {

// Sends request number `seq`; must call `done` exactly once, from any thread, with its outcome.
using SendFn = std::function<void(uint64_t seq, std::function<void(Status)> done)>;

// What the clients saw over one run (or one phase of it).
struct LoadReport {
  Duration duration{0};  // measured span (after warm-up)
  uint64_t sent = 0;
  uint64_t ok = 0;
  uint64_t within_slo = 0;  // ok and latency <= slo
  uint64_t not_sent = 0;    // dropped by the driver: too many outstanding (client overload)
  std::map<std::string, uint64_t> errors;  // by status code name
  LatencyHistogram latency;                // of ok requests, from intended send time
  LatencyHistogram error_latency;          // of answered errors (refusals): how fast they came
  uint64_t sent_late = 0;                  // sent more than 1 ms after their intended time

  double throughput_per_s() const;  // ok / duration
  double goodput_per_s() const;     // within_slo / duration
  double slo_attainment() const;    // within_slo / (sent + not_sent)
  void Merge(const LoadReport& other);
  nlohmann::json ToJson() const;
};

struct DriverOptions {
  // Latency target for goodput and SLO attainment.
  Duration slo = std::chrono::milliseconds(100);
  // Requests completing before this much time from the start are not counted.
  Duration warmup{0};
  // Open loop: at most this many requests in flight; beyond, a request is counted as not_sent.
  size_t max_outstanding = 100000;
  // After the last send, how long to wait for stragglers before counting them as DEADLINE_EXCEEDED.
  Duration drain_timeout = std::chrono::seconds(30);
  // Called for every answered request (warm-up included), from the thread that completed it,
  // with its intended send time and completion time: for time series beside the totals.
  std::function<void(TimePoint intended, TimePoint done, const Status&)> on_complete;
};

// Per-phase reports (index = phase of the schedule in which the request was due) and the total.
struct OpenLoopResult {
  LoadReport total;
  std::vector<LoadReport> phases;
};

OpenLoopResult RunOpenLoop(Clock& clock, ArrivalGenerator& arrivals, const SendFn& send,
                           const DriverOptions& options);

// `clients` loops, each sending its next request when the previous completes, for `duration`.
// No thread per client: the next request is sent from the previous one's completion callback, so
// the SendFn's threads carry the whole load. A SendFn that completes inline runs its client to the
// end before the next client starts (in-order, as one client would).
LoadReport RunClosedLoop(Clock& clock, int clients, Duration duration, const SendFn& send,
                         const DriverOptions& options);

}  // namespace batchwise
