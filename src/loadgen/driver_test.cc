#include "loadgen/driver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace batchwise {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Steps a FakeClock from deadline to deadline whenever some thread is parked on it, so a driver
// that sleeps until its intended send times runs through its schedule deterministically.
class ClockPump {
 public:
  explicit ClockPump(FakeClock& clock)
      : thread_([&clock](std::stop_token st) {
          while (!st.stop_requested()) {
            if (!clock.AdvanceToNextDeadline()) std::this_thread::yield();
          }
        }) {}

 private:
  std::jthread thread_;
};

SendFn Instant() {
  return [](uint64_t, std::function<void(Status)> done) { done(Status::Ok()); };
}

TEST(OpenLoopTest, SendsOnScheduleAndCountsEveryPhase) {
  FakeClock clock;
  ClockPump pump(clock);
  ArrivalGenerator arrivals(*RateSchedule::Parse("1s@100,1s@200"), ArrivalProcess::kConstant, 1);
  OpenLoopResult r = RunOpenLoop(clock, arrivals, Instant(), {});
  ASSERT_EQ(r.phases.size(), 2u);
  EXPECT_EQ(r.phases[0].sent, 100u);
  EXPECT_EQ(r.phases[1].sent, 200u);
  EXPECT_EQ(r.total.ok, 300u);
  EXPECT_EQ(r.total.sent_late, 0u);
  EXPECT_DOUBLE_EQ(r.total.slo_attainment(), 1.0);
  EXPECT_DOUBLE_EQ(r.phases[1].throughput_per_s(), 200.0);
}

TEST(OpenLoopTest, LateSendsCountFromTheirIntendedTime) {
  // A server that takes 50 ms per request and serves one at a time, against 100 requests/s: the
  // i-th request is sent at 50i ms instead of 10i ms and answered at 50i + 50 ms.
  FakeClock clock;
  SendFn slow = [&](uint64_t, std::function<void(Status)> done) {
    clock.Advance(milliseconds(50));
    done(Status::Ok());
  };
  ArrivalGenerator arrivals(RateSchedule::Constant(seconds(1), 100), ArrivalProcess::kConstant, 1);
  DriverOptions o;
  o.slo = milliseconds(100);
  OpenLoopResult r = RunOpenLoop(clock, arrivals, slow, o);
  const LoadReport& t = r.total;
  EXPECT_EQ(t.ok, 100u);
  EXPECT_EQ(t.sent_late, 99u);
  EXPECT_EQ(t.within_slo, 2u);  // 40i + 50 <= 100 for i = 0, 1
  EXPECT_NEAR(t.latency.Percentile(50).count(), Duration(milliseconds(40 * 49 + 50)).count(),
              2010e6 / 64);
  EXPECT_EQ(t.latency.max(), milliseconds(40 * 99 + 50));
  EXPECT_DOUBLE_EQ(t.slo_attainment(), 0.02);
}

TEST(OpenLoopTest, BoundsOutstandingAndCountsWhatNeverCameBack) {
  FakeClock clock;
  ClockPump pump(clock);
  std::vector<std::function<void(Status)>> parked;
  SendFn never = [&](uint64_t, std::function<void(Status)> done) { parked.push_back(done); };
  ArrivalGenerator arrivals(RateSchedule::Constant(seconds(1), 100), ArrivalProcess::kConstant, 1);
  DriverOptions o;
  o.max_outstanding = 10;
  o.drain_timeout = milliseconds(100);
  OpenLoopResult r = RunOpenLoop(clock, arrivals, never, o);
  EXPECT_EQ(r.total.sent, 10u);
  EXPECT_EQ(r.total.not_sent, 90u);
  EXPECT_EQ(r.total.errors["DEADLINE_EXCEEDED (never answered)"], 10u);
  for (auto& done : parked) done(Status::Ok());  // late answers after the run: harmless
}

TEST(OpenLoopTest, ErrorsAreCountedByCodeAndWarmupIsExcluded) {
  FakeClock clock;
  ClockPump pump(clock);
  SendFn flaky = [](uint64_t seq, std::function<void(Status)> done) {
    done(seq % 4 == 0 ? Unavailable("queue full") : Status::Ok());
  };
  ArrivalGenerator arrivals(RateSchedule::Constant(seconds(2), 100), ArrivalProcess::kConstant, 1);
  DriverOptions o;
  o.warmup = seconds(1);
  OpenLoopResult r = RunOpenLoop(clock, arrivals, flaky, o);
  EXPECT_EQ(r.total.sent, 100u);
  EXPECT_EQ(r.total.errors["UNAVAILABLE"], 25u);
  EXPECT_EQ(r.total.error_latency.count(), 25u);  // answered at once: how fast refusals come
  EXPECT_EQ(r.total.error_latency.max(), Duration(0));
  EXPECT_EQ(r.total.ok, 75u);
  EXPECT_EQ(r.total.duration, seconds(1));
  EXPECT_DOUBLE_EQ(r.total.throughput_per_s(), 75.0);
}

TEST(OpenLoopTest, APhaseRatesOnlyItsTimeAfterTheWarmup) {
  FakeClock clock;
  ClockPump pump(clock);
  ArrivalGenerator arrivals(*RateSchedule::Parse("2s@100,1s@100"), ArrivalProcess::kConstant, 1);
  DriverOptions o;
  o.warmup = milliseconds(1500);
  OpenLoopResult r = RunOpenLoop(clock, arrivals, Instant(), o);
  EXPECT_EQ(r.phases[0].duration, milliseconds(500));
  EXPECT_DOUBLE_EQ(r.phases[0].throughput_per_s(), 100.0);
  EXPECT_DOUBLE_EQ(r.phases[1].throughput_per_s(), 100.0);
}

TEST(OpenLoopTest, ARequestSentInWarmupIsNotCountedWhenItCompletesAfter) {
  // Each request is answered when the next one is sent (10 ms later): the one due at 990 ms
  // completes at 1000 ms, after the warm-up, and must not count as answered without being sent.
  FakeClock clock;
  ClockPump pump(clock);
  std::function<void(Status)> pending;
  SendFn answer_previous = [&](uint64_t, std::function<void(Status)> done) {
    if (pending) pending(Status::Ok());
    pending = std::move(done);
  };
  ArrivalGenerator arrivals(RateSchedule::Constant(seconds(2), 100), ArrivalProcess::kConstant, 1);
  DriverOptions o;
  o.warmup = seconds(1);
  o.drain_timeout = milliseconds(100);  // the last one is never answered
  OpenLoopResult r = RunOpenLoop(clock, arrivals, answer_previous, o);
  EXPECT_EQ(r.total.sent, 100u);
  EXPECT_EQ(r.total.ok, 99u);
  EXPECT_EQ(r.total.errors["DEADLINE_EXCEEDED (never answered)"], 1u);
  EXPECT_LE(r.total.slo_attainment(), 1.0);
}

TEST(ClosedLoopTest, EachClientWaitsForItsAnswer) {
  FakeClock clock;
  SendFn ten_ms = [&](uint64_t, std::function<void(Status)> done) {
    clock.Advance(milliseconds(10));
    done(Status::Ok());
  };
  LoadReport r = RunClosedLoop(clock, 1, seconds(1), ten_ms, {});
  EXPECT_EQ(r.ok, 100u);
  EXPECT_EQ(r.latency.Percentile(50), milliseconds(10));
  EXPECT_DOUBLE_EQ(r.throughput_per_s(), 100.0);
}

// Completions on another thread, after send() returned: each client's chain continues there, and
// N clients keep N requests in flight.
TEST(ClosedLoopTest, KeepsOneRequestPerClientInFlightWithAsyncCompletions) {
  std::mutex mu;
  std::vector<std::function<void(Status)>> pending;
  SendFn async = [&](uint64_t, std::function<void(Status)> done) {
    std::lock_guard<std::mutex> l(mu);
    pending.push_back(std::move(done));
  };
  std::atomic<bool> running{true};
  std::atomic<size_t> most_in_flight{0};
  std::jthread server([&] {  // answers whatever is pending, in rounds
    while (running) {
      std::vector<std::function<void(Status)>> round;
      {
        std::lock_guard<std::mutex> l(mu);
        round.swap(pending);
      }
      most_in_flight = std::max(most_in_flight.load(), round.size());
      for (auto& done : round) done(Status::Ok());
      std::this_thread::sleep_for(milliseconds(2));
    }
  });
  LoadReport r = RunClosedLoop(SystemClock(), 5, milliseconds(300), async, {});
  running = false;
  EXPECT_EQ(most_in_flight.load(), 5u);
  EXPECT_GT(r.ok, 5u * 20);  // ≥ 20 rounds of 5 in 300 ms at one round per ~2 ms
  EXPECT_EQ(r.ok, r.sent);
  EXPECT_TRUE(r.errors.empty());
}

}  // namespace
}  // namespace batchwise
