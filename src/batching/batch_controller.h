// BatchController: picks the size of the next batch from the latencies of the batches before it
// (docs/design.md §1, steps S401–S407).
//
// Four policies share one interface and one Options struct, so a model switches policy by config:
//   kFixed       a set batch size (the batcher adds a maximum queue delay): the static baseline.
//   kQueueDelay  always the maximum size; the batcher waits at most its queue delay (Triton).
//   kAimd        +δ while the latency target holds, ×backoff when it is exceeded (Clipper).
//   kTrend       the seed method and the default: ±δ against the latency target, gated by the
//                Mann–Kendall trend of the last n batch sizes, settled once latency and throughput
//                both hold; see TrendController in batch_controller.cc for the exact gating rule.
//
// "Latency" here is end to end, as the method states it (S401): the largest queue wait
// plus compute of any request in the batch, i.e. its oldest request's (the batch's p100). That is
// what a client sees of the batch beyond its own network time. Throughput is the batch's samples
// per second of compute (batch size / compute latency): what the size delivers while the instance
// is busy; an instance idle between batches is limited by demand, not by its size. The batcher
// keeps the backlog that queue wait reflects within the latency target by refusing requests that
// would wait past it (admission by time, batcher.h), so a wait above target means the size is too
// large or the instance too slow, not that the queue is unbounded.
//
// Not thread-safe: the owner (the Batcher) serialises every call under its own mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "batching/mann_kendall.h"
#include "common/clock.h"
#include "common/status.h"

namespace batchwise {

enum class BatchPolicy { kFixed, kQueueDelay, kAimd, kTrend };

// "fixed", "queue_delay", "aimd", "trend".
std::string_view BatchPolicyName(BatchPolicy policy);
Result<BatchPolicy> ParseBatchPolicy(std::string_view name);

struct FixedPolicyOptions {
  // The batch size of the fixed policy, samples. Must lie in [min_batch_size, max_batch_size].
  int batch_size = 8;
};

struct AimdPolicyOptions {
  // On a latency above target the size becomes floor(size × backoff_factor) (at least one less).
  // Clipper's 10 % back-off.
  double backoff_factor = 0.9;
};

struct TrendPolicyOptions {
  // n: how many recent batch sizes the Mann–Kendall test looks at. At α = 0.05 a window below 5
  // can never show a significant trend. [5, 1024].
  int window = 16;
  // α: two-sided significance of the trend test, (0, 1). 0.05 → |Z| > 1.96.
  double alpha = 0.05;
  // Consecutive latency signals against a significant trend needed before the size reverses
  // direction; until then it holds. 1 = reverse at once (the trend then never holds a step).
  int reversal_confirmations = 2;
  // A settled size re-opens when the smoothed latency of its full batches falls by more than this
  // fraction below its value at settling (room to grow), or rises by more than this fraction and
  // to above (1 − this fraction) × the latency target (a rise far inside the target is noise).
  double reopen_latency_shift = 0.2;
  // Smoothing of the latency watched while settled, (0, 1]: weight of the newest batch.
  double latency_ewma_weight = 0.1;
  // A settled size re-opens when this many consecutive batches each leave at least one more full
  // batch queued behind them: demand has outgrown the size although its latency has not moved.
  // 0 disables. >= 0.
  int backlog_reopen_batches = 3;
};

struct ControllerOptions {
  BatchPolicy policy = BatchPolicy::kTrend;
  // Bounds of every adaptive size, samples. 1 <= min <= max.
  int min_batch_size = 1;
  int max_batch_size = 64;
  // Adaptive policies (aimd, trend) start here, samples; clamped into [min, max].
  int initial_batch_size = 1;
  // δ: the additive step of aimd and trend, samples, >= 1.
  int step_size = 2;
  // The batch latency target of aimd and trend, microseconds, > 0.
  int64_t latency_target_micros = 50'000;
  // trend: the throughput (samples/s, batch size / batch latency) a settled size must reach;
  // 0 = no requirement.
  double required_throughput_per_s = 0;

  FixedPolicyOptions fixed;
  AimdPolicyOptions aimd;
  TrendPolicyOptions trend;

  // Checks ranges and consistency; the first problem as INVALID_ARGUMENT.
  Status Validate() const;
};

// What the batcher reports after each batch.
struct BatchObservation {
  int batch_size = 0;  // samples actually run (may be below the size asked for)
  // End-to-end latency: enqueue of the batch's oldest request to completion of the BatchFn.
  Duration latency{};
  // Compute latency: dispatch to completion of the BatchFn; zero: the same as `latency` (no
  // queue wait).
  Duration compute_latency{};
  int queued_samples = 0;  // samples still waiting when the batch completed
  bool ok = true;          // false when the BatchFn failed; failed batches are not learned from
};

// Why the controller did what it did last; stable names for logs and metrics.
enum class ControllerReason {
  kInitial,
  kFixedPolicy,              // fixed / queue_delay: the size never moves
  kLatencyBelowTarget,       // stepped up by δ
  kLatencyAboveTarget,       // stepped down by δ
  kThroughputBelowRequired,  // latency holds but throughput does not: stepped up by δ
  kAimdBackoff,              // aimd: multiplicative decrease
  kHoldAgainstTrend,         // trend: the signal opposes a significant trend; awaiting confirmation
  kReverseConfirmed,         // trend: the opposing signal persisted; reversed
  kHoldBatchNotFull,         // the batch was below the cap: its size is not what limits latency
  kBacklogGrow,              // trend: above the target from queueing in a backlog: stepped up by δ
  kQueueingHold,             // trend: above the target from queueing, no backlog or no room: held
  kHoldAtLimit,              // the step would leave [min, max]
  kHoldFailedBatch,          // the batch failed: nothing learned
  kHoldSettled,              // trend: settled and nothing shifted
  kSettled,                  // trend: settled on this size
  kReopenLatencyRose,        // trend: smoothed latency at the settled size rose near the target
  kReopenLatencyFell,        // trend: it fell by more than reopen_latency_shift
  kReopenThroughput,         // trend: throughput fell below the requirement
  kReopenBacklog,            // trend: a full batch stayed queued behind several batches in a row
  kResumed,                  // started from another controller's state (a moved instance)
};
std::string_view ControllerReasonName(ControllerReason reason);

// A snapshot for the frontend and metrics.
struct ControllerState {
  BatchPolicy policy = BatchPolicy::kTrend;
  int batch_size = 0;
  MannKendallResult trend;  // the last test (trend policy only; zeros otherwise)
  bool settled = false;
  ControllerReason last_decision = ControllerReason::kInitial;
  ControllerReason last_change = ControllerReason::kInitial;  // last size or settled change
  int64_t batches = 0;                                        // observations so far
  int64_t size_changes = 0;                                   // times the size moved
  int64_t direction_changes = 0;  // times a move went the other way from the previous move
  double last_latency_ms = 0;          // end to end (the signal)
  double last_compute_ms = 0;          // of the same batch
  double last_throughput_per_s = 0;    // its samples / compute seconds
  std::vector<int> recent_sizes;       // trend: the window of the last n sizes, oldest first
};

class BatchController {
 public:
  virtual ~BatchController() = default;

  // The size (samples) the next batch should reach.
  virtual int NextBatchSize() const = 0;
  // Learns from a finished batch.
  virtual void OnBatchDone(const BatchObservation& obs) = 0;
  virtual ControllerState State() const = 0;
};

// Validates `options` and builds the controller of options.policy.
//
// With `resume` (the State() of a controller of the same policy, e.g. the instance a re-placement
// replaces), the adaptive policies start where that one stood instead of at initial_batch_size:
// its batch size (clamped into [min, max]), its counters and, for trend, its window of recent
// sizes, so the trend and the step direction carry on. What describes the old hardware is not
// taken — the per-size latencies, the latency predictor, the settled flag and the latency it
// settled at: a trend controller whose window shows no trend settles again on its first batch on
// the new hardware that keeps the target. A `resume` of another policy is ignored; the static
// policies ignore it too (their size comes from the options).
Result<std::unique_ptr<BatchController>> CreateBatchController(
    const ControllerOptions& options, const ControllerState* resume = nullptr);

}  // namespace batchwise
