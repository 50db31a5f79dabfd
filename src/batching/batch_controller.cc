#include "batching/batch_controller.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace batchwise {
namespace {

double Millis(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The batch's compute latency (its end-to-end latency when the batcher did not say).
Duration Compute(const BatchObservation& obs) {
  return obs.compute_latency > Duration::zero() ? obs.compute_latency : obs.latency;
}

// Bookkeeping every policy shares: the size, the counters and the reasons of ControllerState.
class ControllerBase : public BatchController {
 public:
  ControllerBase(const ControllerOptions& options, int initial_size) : opts_(options) {
    state_.policy = options.policy;
    state_.batch_size = std::clamp(initial_size, options.min_batch_size, options.max_batch_size);
  }

  int NextBatchSize() const override { return state_.batch_size; }
  ControllerState State() const override { return state_; }

  // Takes `from`'s size (clamped) and counters (CreateBatchController's `resume`).
  virtual void Resume(const ControllerState& from) {
    state_.batch_size = std::clamp(from.batch_size, opts_.min_batch_size, opts_.max_batch_size);
    state_.batches = from.batches;
    state_.size_changes = from.size_changes;
    state_.direction_changes = from.direction_changes;
    state_.last_decision = state_.last_change = ControllerReason::kResumed;
  }

 protected:
  int size() const { return state_.batch_size; }
  Duration target() const { return std::chrono::microseconds(opts_.latency_target_micros); }

  // Counts the batch and remembers its latencies and throughput.
  void Record(const BatchObservation& obs) {
    ++state_.batches;
    state_.last_latency_ms = Millis(obs.latency);
    state_.last_compute_ms = Millis(Compute(obs));
    state_.last_throughput_per_s =
        state_.last_compute_ms > 0 ? obs.batch_size / (state_.last_compute_ms / 1000.0) : 0;
  }

  void Decide(ControllerReason reason) { state_.last_decision = reason; }

  // Moves to `new_size` (clamped into [min, max]) for `reason`, counting changes of direction.
  void MoveTo(int new_size, ControllerReason reason) {
    new_size = std::clamp(new_size, opts_.min_batch_size, opts_.max_batch_size);
    Decide(reason);
    if (new_size == size()) return;
    const int sign = new_size > size() ? 1 : -1;
    if (last_move_sign_ != 0 && sign != last_move_sign_) ++state_.direction_changes;
    last_move_sign_ = sign;
    ++state_.size_changes;
    state_.batch_size = new_size;
    state_.last_change = reason;
  }

  // An additive step of `direction` × δ; a hold when it would leave [min, max].
  void Step(int direction, ControllerReason reason) {
    const int wanted = size() + direction * opts_.step_size;
    if (std::clamp(wanted, opts_.min_batch_size, opts_.max_batch_size) == size()) {
      return Decide(ControllerReason::kHoldAtLimit);
    }
    MoveTo(wanted, reason);
  }

  const ControllerOptions opts_;
  ControllerState state_;

 private:
  int last_move_sign_ = 0;  // +1 / −1: the direction of the last move; 0 before the first
};

// fixed and queue_delay: the size never moves; the batcher's queue delay does the rest.
class StaticController final : public ControllerBase {
 public:
  StaticController(const ControllerOptions& options, int size) : ControllerBase(options, size) {
    state_.settled = true;
    state_.last_decision = state_.last_change = ControllerReason::kFixedPolicy;
  }
  void OnBatchDone(const BatchObservation& obs) override { Record(obs); }
};

// aimd (Clipper): +δ while the latency target holds and the batch was full; ×backoff above it.
class AimdController final : public ControllerBase {
 public:
  explicit AimdController(const ControllerOptions& options)
      : ControllerBase(options, options.initial_batch_size) {}

  void OnBatchDone(const BatchObservation& obs) override {
    Record(obs);
    if (!obs.ok) return Decide(ControllerReason::kHoldFailedBatch);
    if (obs.latency > target()) return Backoff();
    if (obs.batch_size < size()) return Decide(ControllerReason::kHoldBatchNotFull);
    Step(+1, ControllerReason::kLatencyBelowTarget);
  }

 private:
  void Backoff() {
    const int reduced = static_cast<int>(std::floor(size() * opts_.aimd.backoff_factor));
    const int wanted = std::min(reduced, size() - 1);
    if (std::max(wanted, opts_.min_batch_size) == size()) {
      return Decide(ControllerReason::kHoldAtLimit);
    }
    MoveTo(wanted, ControllerReason::kAimdBackoff);
  }
};

// trend: the seed method (S401–S406). After each batch, in this order:
//
// Latency is the batch's end-to-end latency, throughput its samples per compute second
// (BatchObservation).
//
//  1. Record. The size the batch was asked to reach joins the window of the last n sizes; its
//     latency and compute latency join the running sums of its actual size.
//  2. Test. Mann–Kendall over the window gives S, Z and t: +1 / −1 when Z is significant at α
//     (increasing / decreasing), else 0.
//  3. If settled: hold, unless the smoothed latency of full batches fell more than
//     reopen_latency_shift below its value at settling, or rose more than that and to within the
//     same fraction of the target, or the throughput requirement broke, or backlog_reopen_batches
//     batches in a row left a full batch queued while one more step would still keep the target
//     (arrivals outgrew the size: the latency of a batch does not show that, the queue does); then
//     re-open (forget the window and the per-size latencies, which describe the old conditions) and
//     go on to step 4.
//  4. Signal d (S401/S406): −1 if latency > target; else 0 if the batch was below the cap (its
//     size is not what limits anything); else +1 (latency below target, or throughput below the
//     requirement). In a backlog the size grows only while its compute stays within half the
//     target; above the target with the compute within half of it, the queue made the latency,
//     not the size: +1 in a backlog while there is room, else 0 (SignalAboveTarget).
//  5. Gate (S402–S405), the trend steers the step:
//       follow  — t = 0 or d = t: step d·δ;
//       hold    — d = −t: the signal opposes a significant trend; hold the size, unless this is
//                 the reversal_confirmations-th consecutive such signal;
//       reverse — then step d·δ against the trend.
//     So a single noisy batch never flips a trending size; a persistent signal does, one batch
//     later.
//  6. Settle (S406): once the window is full and shows no significant trend (the additive search
//     stopped moving one way: it oscillates around the boundary, or sits at a limit), settle on
//     the largest size in the window whose latency keeps the target and whose throughput meets the
//     requirement. Latency comes from a line fitted through the batches (since the last re-open)
//     at the window's sizes, and "keeps" means its upper one-sided (1 − α) confidence bound is
//     within the target. Settled sizes hold (S407) until step 3 re-opens them.
class TrendController final : public ControllerBase {
 public:
  explicit TrendController(const ControllerOptions& options)
      : ControllerBase(options, options.initial_batch_size),
        critical_z_(MannKendallCriticalZ(options.trend.alpha)),
        upper_z_(InverseNormalCdf(1 - options.trend.alpha)),
        window_count_(options.max_batch_size + 1, 0),
        latency_sum_ms_(options.max_batch_size + 1, 0.0),
        latency_sq_sum_ms_(options.max_batch_size + 1, 0.0),
        latency_count_(options.max_batch_size + 1, 0),
        compute_sum_ms_(options.max_batch_size + 1, 0.0),
        compute_sq_sum_ms_(options.max_batch_size + 1, 0.0) {
    window_.reserve(options.trend.window);
  }

  ControllerState State() const override {
    ControllerState s = state_;
    s.recent_sizes.assign(window_.begin(), window_.end());
    return s;
  }

  // Also takes `from`'s window of recent sizes (its last n, clamped into [min, max]) and tests it,
  // so the trend gating carries on where it was.
  void Resume(const ControllerState& from) override {
    ControllerBase::Resume(from);
    const size_t n = std::min(from.recent_sizes.size(), static_cast<size_t>(opts_.trend.window));
    for (size_t i = from.recent_sizes.size() - n; i < from.recent_sizes.size(); ++i) {
      PushWindow(std::clamp(from.recent_sizes[i], opts_.min_batch_size, opts_.max_batch_size));
    }
    Test();
  }

  void OnBatchDone(const BatchObservation& obs) override {
    Record(obs);
    backlog_batches_ = obs.queued_samples >= size() ? backlog_batches_ + 1 : 0;
    if (!obs.ok) return Decide(ControllerReason::kHoldFailedBatch);
    Learn(obs);
    Test();
    if (state_.settled && !ReopenIfShifted(obs)) return Decide(ControllerReason::kHoldSettled);
    Adjust(obs);
    MaybeSettle();
  }

 private:
  void Learn(const BatchObservation& obs) {
    PushWindow(size());
    const int n = std::clamp(obs.batch_size, 0, opts_.max_batch_size);
    const double latency_ms = Millis(obs.latency), compute_ms = Millis(Compute(obs));
    latency_sum_ms_[n] += latency_ms;
    latency_sq_sum_ms_[n] += latency_ms * latency_ms;
    compute_sum_ms_[n] += compute_ms;
    compute_sq_sum_ms_[n] += compute_ms * compute_ms;
    ++latency_count_[n];
    // The smoothed latency watched while settled is the settled size's own: a batch below the
    // size is faster because it is smaller, which says nothing about room to grow.
    if (obs.batch_size < size()) return;
    const double w = opts_.trend.latency_ewma_weight;
    recent_latency_ms_ =
        recent_latency_ms_ == 0 ? latency_ms : w * latency_ms + (1 - w) * recent_latency_ms_;
    recent_compute_ms_ =
        recent_compute_ms_ == 0 ? compute_ms : w * compute_ms + (1 - w) * recent_compute_ms_;
  }

  void PushWindow(int batch_size) {
    if (static_cast<int>(window_.size()) == opts_.trend.window) {
      --window_count_[static_cast<int>(window_.front())];
      window_.erase(window_.begin());
    }
    window_.push_back(batch_size);
    ++window_count_[batch_size];
  }

  void Test() {
    state_.trend = MannKendall(window_, opts_.trend.alpha);
    trend_ = 0;
    if (std::abs(state_.trend.z) > critical_z_) trend_ = state_.trend.z > 0 ? 1 : -1;
  }

  // Step 3. True when the settled size re-opened.
  bool ReopenIfShifted(const BatchObservation& obs) {
    const double shift = opts_.trend.reopen_latency_shift;
    // A rise re-opens only when it also brings the latency near the target: far inside it (a
    // 0.5 ms batch under a 5 ms target) a rise is noise the settled size can absorb.
    if (recent_latency_ms_ > settled_latency_ms_ * (1 + shift) &&
        recent_latency_ms_ > Millis(target()) * (1 - shift)) {
      Reopen(ControllerReason::kReopenLatencyRose);
    } else if (recent_latency_ms_ < settled_latency_ms_ * (1 - shift)) {
      Reopen(ControllerReason::kReopenLatencyFell);
    } else if (!MeetsThroughput(size(), recent_compute_ms_)) {
      Reopen(ControllerReason::kReopenThroughput);
    } else if (opts_.trend.backlog_reopen_batches > 0 &&
               backlog_batches_ >= opts_.trend.backlog_reopen_batches && RoomToGrow()) {
      Reopen(ControllerReason::kReopenBacklog);
    } else {
      return false;
    }
    return true;
  }

  // Whether one more step would clearly keep the target: the settled latency scaled in proportion
  // to the size (an upper estimate: batch latency grows sublinearly on batching hardware) stays
  // below the target by the re-open margin. A size at or near the latency boundary cannot serve a
  // backlog faster by growing, and re-opening it would only make it oscillate.
  bool RoomToGrow() const {
    const int next = std::min(size() + opts_.step_size, opts_.max_batch_size);
    const double limit_ms = Millis(target()) * (1 - opts_.trend.reopen_latency_shift);
    return next > size() && settled_latency_ms_ * next / size() <= limit_ms;
  }

  void Reopen(ControllerReason reason) {
    state_.settled = false;
    state_.last_change = reason;
    window_.clear();
    std::fill(window_count_.begin(), window_count_.end(), 0);
    PushWindow(size());
    std::fill(latency_sum_ms_.begin(), latency_sum_ms_.end(), 0.0);
    std::fill(latency_sq_sum_ms_.begin(), latency_sq_sum_ms_.end(), 0.0);
    std::fill(latency_count_.begin(), latency_count_.end(), 0);
    std::fill(compute_sum_ms_.begin(), compute_sum_ms_.end(), 0.0);
    std::fill(compute_sq_sum_ms_.begin(), compute_sq_sum_ms_.end(), 0.0);
    opposing_signals_ = 0;
    backlog_batches_ = 0;
    Test();
  }

  // Steps 4 and 5.
  void Adjust(const BatchObservation& obs) {
    ControllerReason why;
    const int d = Signal(obs, &why);
    if (d == 0) {
      opposing_signals_ = 0;
      return Decide(why);
    }
    if (trend_ != 0 && d == -trend_) {
      if (++opposing_signals_ < opts_.trend.reversal_confirmations) {
        return Decide(ControllerReason::kHoldAgainstTrend);
      }
      why = ControllerReason::kReverseConfirmed;
    }
    opposing_signals_ = 0;
    Step(d, why);
  }

  int Signal(const BatchObservation& obs, ControllerReason* why) const {
    if (obs.latency > target()) return SignalAboveTarget(obs, why);
    if (obs.batch_size < size()) {
      *why = ControllerReason::kHoldBatchNotFull;
      return 0;
    }
    if (Backlogged(obs) && !RoomInHalfTarget(obs)) {  // within the target, but not one step more
      *why = ControllerReason::kQueueingHold;
      return 0;
    }
    *why = MeetsThroughput(obs.batch_size, Millis(Compute(obs)))
               ? ControllerReason::kLatencyBelowTarget
               : ControllerReason::kThroughputBelowRequired;
    return +1;
  }

  // Above the target (step 4). A size whose compute alone takes more than half the target is too
  // large: a request waits out about one batch and then runs in the next, so −δ (S401).
  // Otherwise the time went to the queue, not to the compute, and a smaller size would only drain
  // the queue more slowly: in a backlog the size grows by δ while there is room (below), and
  // without one (the queue has drained) or at that limit, it holds.
  int SignalAboveTarget(const BatchObservation& obs, ControllerReason* why) const {
    if (ComputeMs(obs) > Millis(target()) / 2) {
      *why = ControllerReason::kLatencyAboveTarget;
      return -1;
    }
    if (Backlogged(obs) && RoomInHalfTarget(obs)) {
      *why = ControllerReason::kBacklogGrow;
      return +1;
    }
    *why = ControllerReason::kQueueingHold;
    return 0;
  }

  // A backlog: the batch was full, a full batch was still queued when it completed, and its oldest
  // request waited in the queue (overload, or a burst). Each request then waits out about one
  // batch and runs in the next, so the largest size that serves a backlog in time is the largest
  // whose compute fits in half the target: the size grows to it and no further.
  bool Backlogged(const BatchObservation& obs) const {
    return obs.batch_size >= size() && obs.queued_samples >= size() && obs.latency > Compute(obs);
  }

  // Whether one more step keeps the compute within half the target (the compute at the current
  // size scaled in proportion to the size: an upper estimate).
  bool RoomInHalfTarget(const BatchObservation& obs) const {
    const int next = std::min(size() + opts_.step_size, opts_.max_batch_size);
    return next > size() && ComputeMs(obs) * next / size() <= Millis(target()) / 2;
  }

  // The compute at the current size: the fitted line's (every batch since the last re-open at a
  // size the window holds), not this batch's alone, so one noisy batch does not flip the size
  // back and forth across the half-target line.
  double ComputeMs(const BatchObservation& obs) const {
    const LatencyLine line = FitLine(compute_sum_ms_, compute_sq_sum_ms_);
    return line.n > 0 ? line.MeanMs(size()) : Millis(Compute(obs)) * size() / obs.batch_size;
  }

  // Step 6.
  void MaybeSettle() {
    if (static_cast<int>(window_.size()) < opts_.trend.window || trend_ != 0) return;
    const LatencyLine line = FitLine(latency_sum_ms_, latency_sq_sum_ms_);
    const LatencyLine compute = FitLine(compute_sum_ms_, compute_sq_sum_ms_);
    int best = 0;
    for (int s = opts_.max_batch_size; s >= opts_.min_batch_size && best == 0; --s) {
      if (window_count_[s] > 0 && Satisfies(line, compute, s)) best = s;
    }
    if (best == 0) return;
    MoveTo(best, ControllerReason::kSettled);
    state_.settled = true;
    state_.last_change = ControllerReason::kSettled;
    settled_latency_ms_ = line.MeanMs(best);
    recent_latency_ms_ = settled_latency_ms_;
    recent_compute_ms_ = compute.MeanMs(best);
  }

  // A least-squares line through every batch observed (since the last re-open) at a size the
  // window holds: less noisy than one size's own mean, and local enough to follow a curved
  // latency profile. Only one size seen: its mean.
  struct LatencyLine {
    double n = 0, mean_size = 0, mean_ms = 0, slope = 0, var_size = 0, sigma2 = 0;

    double MeanMs(int batch_size) const { return mean_ms + slope * (batch_size - mean_size); }
    // Standard error of MeanMs(); 0 with fewer than 3 batches.
    double StderrMs(int batch_size) const {
      if (n < 3) return 0;
      const double d = batch_size - mean_size;
      return std::sqrt(sigma2 * (1 / n + (var_size > 1e-9 ? d * d / var_size : 0)));
    }
  };

  // The line through one pair of per-size sums (end-to-end or compute latency).
  LatencyLine FitLine(const std::vector<double>& sum_ms, const std::vector<double>& sq_sum_ms) const {
    double n = 0, sx = 0, sxx = 0, sy = 0, sxy = 0, syy = 0;
    for (int s = opts_.min_batch_size; s <= opts_.max_batch_size; ++s) {
      if (latency_count_[s] == 0 || window_count_[s] == 0) continue;
      const double c = static_cast<double>(latency_count_[s]);
      n += c, sx += c * s, sxx += c * s * s;
      sy += sum_ms[s], sxy += s * sum_ms[s], syy += sq_sum_ms[s];
    }
    LatencyLine line;
    if (n == 0) return line;
    line.n = n, line.mean_size = sx / n, line.mean_ms = sy / n;
    line.var_size = sxx - n * line.mean_size * line.mean_size;
    const double vxy = sxy - n * line.mean_size * line.mean_ms;
    const double vyy = syy - n * line.mean_ms * line.mean_ms;
    const bool sloped = line.var_size > 1e-9;
    line.slope = sloped ? vxy / line.var_size : 0;
    if (n > 2) line.sigma2 = std::max(0.0, vyy - line.slope * vxy) / (n - (sloped ? 2 : 1));
    return line;
  }

  // The size keeps the target when the upper one-sided (1 − α) confidence bound of its fitted
  // latency does: noise cannot talk the controller into a size just past the boundary. Its
  // throughput comes from the fitted compute latency.
  bool Satisfies(const LatencyLine& line, const LatencyLine& compute, int batch_size) const {
    const double mean_ms = line.MeanMs(batch_size);
    const double bound_ms = mean_ms + upper_z_ * line.StderrMs(batch_size);
    return line.n > 0 && mean_ms > 0 && bound_ms <= opts_.latency_target_micros / 1000.0 &&
           MeetsThroughput(batch_size, compute.MeanMs(batch_size));
  }

  bool MeetsThroughput(int batch_size, double latency_ms) const {
    if (opts_.required_throughput_per_s <= 0) return true;
    return latency_ms > 0 && batch_size / (latency_ms / 1000.0) >= opts_.required_throughput_per_s;
  }

  const double critical_z_;
  std::vector<double> window_;          // the last n batch sizes, oldest first
  const double upper_z_;                // z_{1−α}: one-sided bound on a fitted latency
  std::vector<int> window_count_;       // per batch size: how often the window holds it
  std::vector<double> latency_sum_ms_;  // per actual batch size, since the last re-open
  std::vector<double> latency_sq_sum_ms_;
  std::vector<int64_t> latency_count_;
  std::vector<double> compute_sum_ms_;  // per actual batch size, since the last re-open
  std::vector<double> compute_sq_sum_ms_;
  int trend_ = 0;                 // +1 / −1: significant increasing / decreasing; 0: none
  int opposing_signals_ = 0;      // consecutive signals against the trend
  double recent_latency_ms_ = 0;  // EWMA of full batches' latency
  double recent_compute_ms_ = 0;  // and of their compute latency
  double settled_latency_ms_ = 0;
  int backlog_batches_ = 0;  // consecutive batches that left at least a full batch queued
};

}  // namespace

std::string_view BatchPolicyName(BatchPolicy policy) {
  switch (policy) {
    case BatchPolicy::kFixed:
      return "fixed";
    case BatchPolicy::kQueueDelay:
      return "queue_delay";
    case BatchPolicy::kAimd:
      return "aimd";
    case BatchPolicy::kTrend:
      return "trend";
  }
  return "unknown";
}

Result<BatchPolicy> ParseBatchPolicy(std::string_view name) {
  for (BatchPolicy p :
       {BatchPolicy::kFixed, BatchPolicy::kQueueDelay, BatchPolicy::kAimd, BatchPolicy::kTrend}) {
    if (BatchPolicyName(p) == name) return p;
  }
  return InvalidArgument("unknown batch policy '" + std::string(name) +
                         "' (fixed, queue_delay, aimd, trend)");
}

std::string_view ControllerReasonName(ControllerReason reason) {
  switch (reason) {
    case ControllerReason::kInitial:
      return "initial";
    case ControllerReason::kFixedPolicy:
      return "fixed_policy";
    case ControllerReason::kLatencyBelowTarget:
      return "latency_below_target";
    case ControllerReason::kLatencyAboveTarget:
      return "latency_above_target";
    case ControllerReason::kThroughputBelowRequired:
      return "throughput_below_required";
    case ControllerReason::kAimdBackoff:
      return "aimd_backoff";
    case ControllerReason::kHoldAgainstTrend:
      return "hold_against_trend";
    case ControllerReason::kReverseConfirmed:
      return "reverse_confirmed";
    case ControllerReason::kHoldBatchNotFull:
      return "hold_batch_not_full";
    case ControllerReason::kBacklogGrow:
      return "backlog_grow";
    case ControllerReason::kQueueingHold:
      return "queueing_hold";
    case ControllerReason::kHoldAtLimit:
      return "hold_at_limit";
    case ControllerReason::kHoldFailedBatch:
      return "hold_failed_batch";
    case ControllerReason::kHoldSettled:
      return "hold_settled";
    case ControllerReason::kSettled:
      return "settled";
    case ControllerReason::kReopenLatencyRose:
      return "reopen_latency_rose";
    case ControllerReason::kReopenLatencyFell:
      return "reopen_latency_fell";
    case ControllerReason::kReopenThroughput:
      return "reopen_throughput";
    case ControllerReason::kReopenBacklog:
      return "reopen_backlog";
    case ControllerReason::kResumed:
      return "resumed";
  }
  return "unknown";
}

Status ControllerOptions::Validate() const {
  if (min_batch_size < 1) return InvalidArgument("min_batch_size must be >= 1");
  if (max_batch_size < min_batch_size) {
    return InvalidArgument("max_batch_size must be >= min_batch_size");
  }
  if (step_size < 1) return InvalidArgument("step_size (delta) must be >= 1");
  if (latency_target_micros <= 0) return InvalidArgument("latency_target_micros must be > 0");
  if (required_throughput_per_s < 0) {
    return InvalidArgument("required_throughput_per_s must be >= 0");
  }
  if (policy == BatchPolicy::kFixed &&
      (fixed.batch_size < min_batch_size || fixed.batch_size > max_batch_size)) {
    return InvalidArgument("fixed.batch_size must lie in [min_batch_size, max_batch_size]");
  }
  if (!(aimd.backoff_factor > 0 && aimd.backoff_factor < 1)) {
    return InvalidArgument("aimd.backoff_factor must lie in (0, 1)");
  }
  if (trend.window < 5 || trend.window > 1024) {
    return InvalidArgument("trend.window must lie in [5, 1024]");
  }
  if (!(trend.alpha > 0 && trend.alpha < 1))
    return InvalidArgument("trend.alpha must lie in (0, 1)");
  if (trend.reversal_confirmations < 1) {
    return InvalidArgument("trend.reversal_confirmations must be >= 1");
  }
  if (!(trend.reopen_latency_shift > 0 && trend.reopen_latency_shift < 1)) {
    return InvalidArgument("trend.reopen_latency_shift must lie in (0, 1)");
  }
  if (trend.backlog_reopen_batches < 0) {
    return InvalidArgument("trend.backlog_reopen_batches must be >= 0");
  }
  if (!(trend.latency_ewma_weight > 0 && trend.latency_ewma_weight <= 1)) {
    return InvalidArgument("trend.latency_ewma_weight must lie in (0, 1]");
  }
  return Status::Ok();
}

namespace {

Result<std::unique_ptr<ControllerBase>> NewController(const ControllerOptions& options) {
  switch (options.policy) {
    case BatchPolicy::kFixed:
      return std::unique_ptr<ControllerBase>(
          std::make_unique<StaticController>(options, options.fixed.batch_size));
    case BatchPolicy::kQueueDelay:
      return std::unique_ptr<ControllerBase>(
          std::make_unique<StaticController>(options, options.max_batch_size));
    case BatchPolicy::kAimd:
      return std::unique_ptr<ControllerBase>(std::make_unique<AimdController>(options));
    case BatchPolicy::kTrend:
      return std::unique_ptr<ControllerBase>(std::make_unique<TrendController>(options));
  }
  return InvalidArgument("unknown batch policy");
}

bool IsAdaptive(BatchPolicy policy) {
  return policy == BatchPolicy::kAimd || policy == BatchPolicy::kTrend;
}

}  // namespace

Result<std::unique_ptr<BatchController>> CreateBatchController(const ControllerOptions& options,
                                                               const ControllerState* resume) {
  BW_RETURN_IF_ERROR(options.Validate());
  BW_ASSIGN_OR_RETURN(std::unique_ptr<ControllerBase> controller, NewController(options));
  if (resume != nullptr && resume->policy == options.policy && IsAdaptive(options.policy)) {
    controller->Resume(*resume);
  }
  return std::unique_ptr<BatchController>(std::move(controller));
}

}  // namespace batchwise
