#include "loadgen/driver.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

namespace batchwise {
namespace {

using Seconds = std::chrono::duration<double>;

// Collects completions from any thread; Run() waits on it for the stragglers.
class Tally {
 public:
  Tally(Clock& clock, const DriverOptions& o, size_t phases, TimePoint start)
      : clock_(clock), options_(o), phases_(phases), start_(start) {}

  bool TryStart(size_t max_outstanding) {
    std::lock_guard<std::mutex> l(mu_);
    if (outstanding_ >= max_outstanding) return false;
    ++outstanding_;
    return true;
  }

  void Finish(size_t phase, TimePoint intended, const Status& s) {
    TimePoint now = clock_.Now();
    if (options_.on_complete) options_.on_complete(intended, now, s);
    std::lock_guard<std::mutex> l(mu_);
    --outstanding_;
    // Warm-up is by intended send time, as for Sent(): a request is counted whole or not at all.
    if (intended - start_ >= options_.warmup) Count(phases_[phase], now - intended, s);
    drained_.notify_all();
  }

  void NotSent(size_t phase, TimePoint intended) {
    std::lock_guard<std::mutex> l(mu_);
    if (intended - start_ >= options_.warmup) ++phases_[phase].not_sent;
  }

  void Sent(size_t phase, TimePoint intended, TimePoint actual) {
    std::lock_guard<std::mutex> l(mu_);
    if (intended - start_ < options_.warmup) return;
    ++phases_[phase].sent;
    if (actual - intended > std::chrono::milliseconds(1)) ++phases_[phase].sent_late;
  }

  // Waits for in-flight requests; what is still out at the timeout counts as DEADLINE_EXCEEDED.
  void Drain() {
    std::unique_lock<std::mutex> l(mu_);
    TimePoint deadline = clock_.Now() + options_.drain_timeout;
    while (outstanding_ > 0 && !clock_.WaitUntil(l, drained_, deadline)) {
    }
    CountUnanswered();
  }

  // What is still in flight now counts as DEADLINE_EXCEEDED.
  void GiveUp() {
    std::lock_guard<std::mutex> l(mu_);
    CountUnanswered();
  }

  std::vector<LoadReport> Take(Duration measured) {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& p : phases_) p.duration = measured;
    return phases_;
  }

 private:
  void CountUnanswered() {
    if (outstanding_ > 0)
      phases_.back().errors["DEADLINE_EXCEEDED (never answered)"] += outstanding_;
  }

  void Count(LoadReport& r, Duration latency, const Status& s) {
    if (!s.ok()) {
      ++r.errors[std::string(StatusCodeName(s.code()))];
      r.error_latency.Record(latency);
      return;
    }
    ++r.ok;
    r.latency.Record(latency);
    if (latency <= options_.slo) ++r.within_slo;
  }

  Clock& clock_;
  const DriverOptions options_;
  std::mutex mu_;
  std::condition_variable drained_;
  std::vector<LoadReport> phases_;  // guarded by mu_
  size_t outstanding_ = 0;          // guarded by mu_
  const TimePoint start_;
};

// The closed loop's clients without a thread each: a client sends its next request from the
// completion of its previous one, on whichever thread completed it. A SendFn that completes inline
// (in-process targets, tests) would recurse once per request, so Run() loops instead while sends
// complete before they return; a handoff flag per request decides who continues the chain.
class ClosedLoop : public std::enable_shared_from_this<ClosedLoop> {
 public:
  ClosedLoop(Clock& clock, TimePoint end, const SendFn& send, std::shared_ptr<Tally> tally,
             int clients)
      : clock_(clock), end_(end), send_(send), tally_(std::move(tally)), active_(clients) {}

  // Runs one client until the end time.
  void Run() {
    enum : int { kInSend, kReturned, kCompleted };
    for (;;) {
      const TimePoint intended = clock_.Now();
      if (intended >= end_) return Stopped();
      tally_->TryStart(SIZE_MAX);
      tally_->Sent(0, intended, intended);
      auto handoff = std::make_shared<std::atomic<int>>(kInSend);
      send_(seq_++, [self = shared_from_this(), intended, handoff](Status s) {
        self->tally_->Finish(0, intended, s);
        if (handoff->exchange(kCompleted) == kReturned) self->Run();  // send() returned first
      });
      if (handoff->exchange(kReturned) == kInSend) return;  // its completion continues the chain
    }
  }

  // Until every client stopped, or `deadline`; false if some did not.
  bool Wait(TimePoint deadline) {
    std::unique_lock<std::mutex> l(mu_);
    while (active_ > 0 && !clock_.WaitUntil(l, stopped_, deadline)) {
    }
    return active_ == 0;
  }

 private:
  void Stopped() {
    std::lock_guard<std::mutex> l(mu_);
    if (--active_ == 0) stopped_.notify_all();
  }

  Clock& clock_;
  const TimePoint end_;
  const SendFn send_;  // a copy: nothing here refers to RunClosedLoop's frame once it returned
  const std::shared_ptr<Tally> tally_;
  std::atomic<uint64_t> seq_{0};
  std::mutex mu_;
  std::condition_variable stopped_;
  int active_;  // guarded by mu_: clients still sending
};

LoadReport Sum(const std::vector<LoadReport>& parts, Duration d) {
  LoadReport total;
  for (const auto& p : parts) total.Merge(p);
  total.duration = d;
  return total;
}

}  // namespace

double LoadReport::throughput_per_s() const {
  double s = Seconds(duration).count();
  return s > 0 ? ok / s : 0;
}

double LoadReport::goodput_per_s() const {
  double s = Seconds(duration).count();
  return s > 0 ? within_slo / s : 0;
}

double LoadReport::slo_attainment() const {
  uint64_t offered = sent + not_sent;
  return offered ? static_cast<double>(within_slo) / offered : 0;
}

void LoadReport::Merge(const LoadReport& o) {
  sent += o.sent;
  ok += o.ok;
  within_slo += o.within_slo;
  not_sent += o.not_sent;
  sent_late += o.sent_late;
  for (const auto& [k, v] : o.errors) errors[k] += v;
  latency.Merge(o.latency);
  error_latency.Merge(o.error_latency);
}

nlohmann::json LoadReport::ToJson() const {
  auto ms = [](Duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  return {{"duration_s", Seconds(duration).count()},
          {"sent", sent},
          {"ok", ok},
          {"within_slo", within_slo},
          {"not_sent", not_sent},
          {"sent_late", sent_late},
          {"errors", errors},
          {"throughput_per_s", throughput_per_s()},
          {"goodput_per_s", goodput_per_s()},
          {"slo_attainment", slo_attainment()},
          {"latency_ms",
           {{"mean", ms(latency.mean())},
            {"p50", ms(latency.Percentile(50))},
            {"p90", ms(latency.Percentile(90))},
            {"p99", ms(latency.Percentile(99))},
            {"p99_9", ms(latency.Percentile(99.9))},
            {"max", ms(latency.max())}}},
          {"error_latency_ms",
           {{"p50", ms(error_latency.Percentile(50))},
            {"p99", ms(error_latency.Percentile(99))},
            {"max", ms(error_latency.max())}}}};
}

OpenLoopResult RunOpenLoop(Clock& clock, ArrivalGenerator& arrivals, const SendFn& send,
                           const DriverOptions& options) {
  const RateSchedule& schedule = arrivals.schedule();
  const TimePoint start = clock.Now();
  // Shared with the completion callbacks: a late answer after the drain timeout finds it alive.
  auto tally = std::make_shared<Tally>(clock, options, schedule.phases().size(), start);
  uint64_t seq = 0;
  while (auto offset = arrivals.Next()) {
    TimePoint intended = start + *offset;
    if (clock.Now() < intended) clock.SleepUntil(intended);
    size_t phase = schedule.PhaseAt(*offset);
    if (!tally->TryStart(options.max_outstanding)) {
      tally->NotSent(phase, intended);
      continue;
    }
    tally->Sent(phase, intended, clock.Now());
    send(seq++, [tally, phase, intended](Status s) { tally->Finish(phase, intended, s); });
  }
  tally->Drain();
  Duration measured = std::max(Duration(0), schedule.total() - options.warmup);
  OpenLoopResult r;
  r.phases = tally->Take(measured);
  // Each phase's measured span is the part of it after the warm-up.
  Duration phase_start{0};
  for (size_t i = 0; i < r.phases.size(); ++i) {
    const Duration phase_end = phase_start + schedule.phases()[i].duration;
    r.phases[i].duration = std::max(Duration(0), phase_end - std::max(phase_start, options.warmup));
    phase_start = phase_end;
  }
  r.total = Sum(r.phases, measured);
  return r;
}

LoadReport RunClosedLoop(Clock& clock, int clients, Duration duration, const SendFn& send,
                         const DriverOptions& options) {
  const TimePoint start = clock.Now();
  const TimePoint end = start + duration;
  auto tally = std::make_shared<Tally>(clock, options, 1, start);
  auto loop = std::make_shared<ClosedLoop>(clock, end, send, tally, clients);
  for (int c = 0; c < clients; ++c) loop->Run();
  if (!loop->Wait(end + options.drain_timeout)) tally->GiveUp();
  return Sum(tally->Take(duration - options.warmup), duration - options.warmup);
}

}  // namespace batchwise
