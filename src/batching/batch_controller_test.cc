#include "batching/batch_controller.h"

#include <gtest/gtest.h>

#include <functional>

namespace batchwise {
namespace {

using std::chrono::microseconds;

ControllerOptions Options(BatchPolicy policy) {
  ControllerOptions o;
  o.policy = policy;
  o.max_batch_size = 32;
  o.step_size = 2;
  o.latency_target_micros = 10'000;
  o.trend.window = 8;
  return o;
}

std::unique_ptr<BatchController> Make(const ControllerOptions& o) {
  auto c = CreateBatchController(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(c).value();
}

// One full batch at the controller's size with latency `micros`.
void Feed(BatchController& c, int64_t micros) {
  c.OnBatchDone({.batch_size = c.NextBatchSize(), .latency = microseconds(micros)});
}

// Latency that keeps the target up to `limit` samples and misses it above.
void FeedUntil(BatchController& c, int limit, int batches) {
  for (int i = 0; i < batches; ++i) Feed(c, c.NextBatchSize() <= limit ? 5'000 : 15'000);
}

class InvalidOptionsTest
    : public ::testing::TestWithParam<std::function<void(ControllerOptions&)>> {};

TEST_P(InvalidOptionsTest, CreateRefusesThem) {
  ControllerOptions o = Options(BatchPolicy::kTrend);
  GetParam()(o);
  EXPECT_EQ(CreateBatchController(o).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(
    Mutations, InvalidOptionsTest,
    ::testing::Values([](ControllerOptions& o) { o.min_batch_size = 0; },
                      [](ControllerOptions& o) { o.max_batch_size = 0; },
                      [](ControllerOptions& o) { o.step_size = 0; },
                      [](ControllerOptions& o) { o.latency_target_micros = 0; },
                      [](ControllerOptions& o) { o.required_throughput_per_s = -1; },
                      [](ControllerOptions& o) { o.aimd.backoff_factor = 1.0; },
                      [](ControllerOptions& o) { o.trend.window = 4; },
                      [](ControllerOptions& o) { o.trend.alpha = 0; },
                      [](ControllerOptions& o) { o.trend.reversal_confirmations = 0; },
                      [](ControllerOptions& o) { o.trend.reopen_latency_shift = 1; },
                      [](ControllerOptions& o) {
                        o.policy = BatchPolicy::kFixed;
                        o.fixed.batch_size = 64;
                      }));

TEST(BatchPolicyTest, NamesRoundTrip) {
  for (BatchPolicy p :
       {BatchPolicy::kFixed, BatchPolicy::kQueueDelay, BatchPolicy::kAimd, BatchPolicy::kTrend}) {
    EXPECT_EQ(*ParseBatchPolicy(BatchPolicyName(p)), p);
  }
  EXPECT_FALSE(ParseBatchPolicy("dynamic").ok());
}

TEST(StaticControllerTest, FixedAndQueueDelayNeverMove) {
  ControllerOptions o = Options(BatchPolicy::kFixed);
  o.fixed.batch_size = 8;
  auto fixed = Make(o);
  auto queue_delay = Make(Options(BatchPolicy::kQueueDelay));
  for (int i = 0; i < 5; ++i) Feed(*fixed, 50'000), Feed(*queue_delay, 50'000);
  EXPECT_EQ(fixed->NextBatchSize(), 8);
  EXPECT_EQ(queue_delay->NextBatchSize(), 32);
  EXPECT_TRUE(fixed->State().settled);
  EXPECT_EQ(fixed->State().batches, 5);
}

TEST(AimdControllerTest, AddsDeltaThenBacksOffMultiplicatively) {
  ControllerOptions o = Options(BatchPolicy::kAimd);
  o.initial_batch_size = 20;
  auto c = Make(o);
  Feed(*c, 5'000);
  EXPECT_EQ(c->NextBatchSize(), 22);
  Feed(*c, 15'000);
  EXPECT_EQ(c->NextBatchSize(), 19);  // floor(22 · 0.9)
  EXPECT_EQ(c->State().last_decision, ControllerReason::kAimdBackoff);
  EXPECT_EQ(c->State().direction_changes, 1);
  c->OnBatchDone({.batch_size = 3, .latency = microseconds(5'000)});  // partial batch
  EXPECT_EQ(c->NextBatchSize(), 19);
  EXPECT_EQ(c->State().last_decision, ControllerReason::kHoldBatchNotFull);
}

TEST(TrendControllerTest, FollowsTheLatencySignalWhileThereIsNoTrend) {
  auto c = Make(Options(BatchPolicy::kTrend));
  Feed(*c, 5'000);
  EXPECT_EQ(c->NextBatchSize(), 3);
  EXPECT_EQ(c->State().last_decision, ControllerReason::kLatencyBelowTarget);
  Feed(*c, 15'000);  // window {1, 3}: no significant trend, so the step follows the signal
  EXPECT_EQ(c->NextBatchSize(), 1);
}

// Five rising steps make the trend significant; a latency miss against it is held once and
// reversed on the second consecutive miss (reversal_confirmations = 2).
TEST(TrendControllerTest, HoldsASingleSignalAgainstASignificantTrendThenReverses) {
  auto c = Make(Options(BatchPolicy::kTrend));
  for (int i = 0; i < 5; ++i) Feed(*c, 5'000);
  ASSERT_EQ(c->NextBatchSize(), 11);
  Feed(*c, 15'000);
  EXPECT_EQ(c->NextBatchSize(), 11);
  EXPECT_EQ(c->State().last_decision, ControllerReason::kHoldAgainstTrend);
  EXPECT_EQ(c->State().trend.trend, Trend::kIncreasing);
  EXPECT_TRUE(c->State().trend.significant);
  Feed(*c, 15'000);
  EXPECT_EQ(c->NextBatchSize(), 9);
  EXPECT_EQ(c->State().last_decision, ControllerReason::kReverseConfirmed);
}

TEST(TrendControllerTest, OneConfirmationReversesAtOnce) {
  ControllerOptions o = Options(BatchPolicy::kTrend);
  o.trend.reversal_confirmations = 1;
  auto c = Make(o);
  for (int i = 0; i < 5; ++i) Feed(*c, 5'000);
  Feed(*c, 15'000);
  EXPECT_EQ(c->NextBatchSize(), 9);
}

TEST(TrendControllerTest, SettlesOnTheLargestSizeThatKeepsTheTarget) {
  auto c = Make(Options(BatchPolicy::kTrend));
  FeedUntil(*c, 14, 60);
  const ControllerState s = c->State();
  EXPECT_TRUE(s.settled);
  EXPECT_EQ(s.batch_size, 13);  // 1, 3, …, 13 keep the target; 15 does not
  EXPECT_FALSE(s.trend.significant);
}

TEST(TrendControllerTest, SettlesAtTheMaximumWhenEverySizeKeepsTheTarget) {
  auto c = Make(Options(BatchPolicy::kTrend));
  FeedUntil(*c, 1000, 40);
  EXPECT_TRUE(c->State().settled);
  EXPECT_EQ(c->NextBatchSize(), 32);
}

TEST(TrendControllerTest, NeverSettlesWhenEvenTheMinimumMissesTheTarget) {
  auto c = Make(Options(BatchPolicy::kTrend));
  FeedUntil(*c, 0, 40);
  EXPECT_FALSE(c->State().settled);
  EXPECT_EQ(c->NextBatchSize(), 1);
  EXPECT_EQ(c->State().last_decision, ControllerReason::kHoldAtLimit);
}

TEST(TrendControllerTest, ReopensWhenLatencyRisesAndSettlesLower) {
  auto c = Make(Options(BatchPolicy::kTrend));
  FeedUntil(*c, 14, 60);
  ASSERT_TRUE(c->State().settled);
  bool reopened = false;
  for (int i = 0; i < 100; ++i) {
    FeedUntil(*c, 8, 1);  // the processor got slower: only 8 keep the target now
    reopened |= !c->State().settled;
  }
  EXPECT_TRUE(reopened);
  EXPECT_TRUE(c->State().settled);
  EXPECT_EQ(c->NextBatchSize(), 7);
}

// Partial batches are faster because they are smaller: that is not room to grow, and must not
// re-open a settled size (it did, and made the size wander whenever the load dropped).
TEST(TrendControllerTest, PartialBatchesDoNotReopenASettledSize) {
  auto c = Make(Options(BatchPolicy::kTrend));
  FeedUntil(*c, 14, 60);
  ASSERT_TRUE(c->State().settled);
  const ControllerState before = c->State();
  for (int i = 0; i < 100; ++i) {
    c->OnBatchDone({.batch_size = 4, .latency = microseconds(1'500)});
    ASSERT_TRUE(c->State().settled) << "batch " << i;
  }
  EXPECT_EQ(c->State().size_changes, before.size_changes);
}

// Far inside the target a relative rise is noise; near the target it re-opens.
TEST(TrendControllerTest, ARiseReopensOnlyNearTheTarget) {
  auto c = Make(Options(BatchPolicy::kTrend));  // target 10 ms, shift 0.2
  FeedUntil(*c, 1000, 40);                      // every size takes 5 ms: settled at 32
  ASSERT_TRUE(c->State().settled);
  for (int i = 0; i < 100; ++i) Feed(*c, 7'500);  // +50 %, still below 8 ms
  EXPECT_TRUE(c->State().settled);
  bool reopened = false;
  for (int i = 0; i < 100 && !reopened; ++i) {
    Feed(*c, 9'000);  // +80 % and within 20 % of the target
    reopened = !c->State().settled;
  }
  EXPECT_TRUE(reopened);
  EXPECT_EQ(c->State().last_change, ControllerReason::kReopenLatencyRose);
}

// Light load settles a small size (batches are partial); when arrivals outgrow it, its latency
// does not change but a full batch stays queued behind every batch: that re-opens it and the
// size climbs again.
TEST(TrendControllerTest, ReopensWhenABacklogPersistsAndClimbs) {
  auto c = Make(Options(BatchPolicy::kTrend));
  for (int i = 0; i < 60; ++i) {
    int asked = c->NextBatchSize();
    c->OnBatchDone({.batch_size = std::min(asked, 3), .latency = microseconds(5'000)});
  }
  ASSERT_TRUE(c->State().settled);
  const int settled = c->NextBatchSize();
  for (int i = 0; i < 2; ++i) {  // two batches with a backlog: not yet
    c->OnBatchDone({.batch_size = settled, .latency = microseconds(5'000), .queued_samples = 50});
  }
  EXPECT_TRUE(c->State().settled);
  c->OnBatchDone({.batch_size = settled, .latency = microseconds(5'000), .queued_samples = 50});
  EXPECT_FALSE(c->State().settled);  // latency and throughput held: only the backlog can re-open
  for (int i = 0; i < 5; ++i) {
    c->OnBatchDone(
        {.batch_size = c->NextBatchSize(), .latency = microseconds(5'000), .queued_samples = 50});
  }
  EXPECT_GE(c->NextBatchSize(), settled + 5 * 2);
}

TEST(TrendControllerTest, ABacklogAtTheLatencyBoundaryDoesNotReopen) {
  auto c = Make(Options(BatchPolicy::kTrend));
  FeedUntil(*c, 14, 60);  // settled at 13: 15 would miss the target
  ASSERT_TRUE(c->State().settled);
  for (int i = 0; i < 20; ++i) {
    c->OnBatchDone(
        {.batch_size = c->NextBatchSize(), .latency = microseconds(9'500), .queued_samples = 50});
  }
  EXPECT_TRUE(c->State().settled);
}

TEST(TrendControllerTest, ABacklogThatClearsDoesNotReopen) {
  auto c = Make(Options(BatchPolicy::kTrend));
  FeedUntil(*c, 14, 60);
  ASSERT_TRUE(c->State().settled);
  for (int i = 0; i < 20; ++i) {  // a backlog every other batch: never three in a row
    c->OnBatchDone({.batch_size = c->NextBatchSize(),
                    .latency = microseconds(5'000),
                    .queued_samples = i % 2 ? 0 : 50});
  }
  EXPECT_TRUE(c->State().settled);
}

// Overload or a burst: every batch is full, a full batch is still queued behind it, and the
// end-to-end latency is past the target because of the wait in the queue, while the compute is
// 0.25 ms per sample. Shrinking would drain the queue more slowly: the size grows while one more
// step keeps the compute within half the target (5 ms: 20 samples), then holds there.
TEST(TrendControllerTest, AboveTheTargetInABacklogGrowsWhileComputeKeepsHalfTheTarget) {
  ControllerOptions o = Options(BatchPolicy::kTrend);
  o.initial_batch_size = 4;
  auto c = Make(o);
  for (int i = 0; i < 40; ++i) {
    const int n = c->NextBatchSize();
    c->OnBatchDone({.batch_size = n,
                    .latency = microseconds(12'000),
                    .compute_latency = microseconds(250 * n),
                    .queued_samples = 100});
  }
  EXPECT_EQ(c->NextBatchSize(), 20);
  EXPECT_EQ(c->State().last_decision, ControllerReason::kQueueingHold);
  EXPECT_EQ(c->State().direction_changes, 0);
}

// The same latency once the queue has drained holds the size (the queue made it, not the size);
// a compute past half the target is the size's doing, backlog or not: it steps down.
TEST(TrendControllerTest, AboveTheTargetHoldsWithoutABacklogAndStepsDownWhenComputeIsSlow) {
  ControllerOptions o = Options(BatchPolicy::kTrend);
  o.initial_batch_size = 16;
  auto c = Make(o);
  c->OnBatchDone({.batch_size = 16,
                  .latency = microseconds(12'000),
                  .compute_latency = microseconds(4'000),
                  .queued_samples = 3});
  EXPECT_EQ(c->NextBatchSize(), 16);
  EXPECT_EQ(c->State().last_decision, ControllerReason::kQueueingHold);
  c->OnBatchDone({.batch_size = 16,
                  .latency = microseconds(12'000),
                  .compute_latency = microseconds(7'000),
                  .queued_samples = 100});
  EXPECT_EQ(c->NextBatchSize(), 14);  // the fitted compute at 16: (4 + 7) / 2 > 5 ms
  EXPECT_EQ(c->State().last_decision, ControllerReason::kLatencyAboveTarget);
}

TEST(TrendControllerTest, ThroughputRequirementBlocksSettlingOnSmallSizes) {
  ControllerOptions o = Options(BatchPolicy::kTrend);
  o.required_throughput_per_s = 4000;  // 13 samples / 5 ms = 2600/s is not enough
  auto c = Make(o);
  FeedUntil(*c, 14, 60);
  EXPECT_FALSE(c->State().settled);
}

TEST(TrendControllerTest, FailedBatchesTeachNothing) {
  auto c = Make(Options(BatchPolicy::kTrend));
  c->OnBatchDone({.batch_size = 1, .latency = microseconds(1), .ok = false});
  EXPECT_EQ(c->NextBatchSize(), 1);
  EXPECT_EQ(c->State().last_decision, ControllerReason::kHoldFailedBatch);
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

// A moved instance's controller resumes its predecessor's: size, counters and (trend) the window
// of recent sizes, so the trend test sees the same history; then it carries on from there.
TEST(BatchControllerResumeTest, TrendResumesSizeCountersAndWindow) {
  auto old = Make(Options(BatchPolicy::kTrend));
  for (int i = 0; i < 5; ++i) Feed(*old, 5'000);  // climbing: 1, 3, 5, 7, 9 → 11
  const ControllerState s = old->State();
  ASSERT_EQ(s.recent_sizes, (std::vector<int>{1, 3, 5, 7, 9}));
  auto c = CreateBatchController(Options(BatchPolicy::kTrend), &s);
  ASSERT_TRUE(c.ok()) << c.status();
  const ControllerState r = (*c)->State();
  EXPECT_EQ(r.batch_size, s.batch_size);
  EXPECT_EQ(r.recent_sizes, s.recent_sizes);
  EXPECT_EQ(r.trend.z, s.trend.z);
  EXPECT_EQ(r.batches, s.batches);
  EXPECT_EQ(r.size_changes, s.size_changes);
  EXPECT_EQ(r.last_decision, ControllerReason::kResumed);
  EXPECT_EQ(ControllerReasonName(r.last_decision), "resumed");
  // It goes on as the old one would have.
  Feed(*old, 5'000);
  Feed(**c, 5'000);
  EXPECT_EQ((*c)->NextBatchSize(), old->NextBatchSize());
  EXPECT_EQ((*c)->State().recent_sizes, old->State().recent_sizes);
}

TEST(BatchControllerResumeTest, ClampsIntoTheNewBoundsAndKeepsOnlyTheLastWindow) {
  ControllerState s;
  s.policy = BatchPolicy::kTrend;
  s.batch_size = 40;
  for (int i = 1; i <= 12; ++i) s.recent_sizes.push_back(i * 4);
  auto c = CreateBatchController(Options(BatchPolicy::kTrend), &s);  // max 32, window 8
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->NextBatchSize(), 32);
  EXPECT_EQ((*c)->State().recent_sizes, (std::vector<int>{20, 24, 28, 32, 32, 32, 32, 32}));
}

TEST(BatchControllerResumeTest, AimdResumesItsSize) {
  ControllerState s;
  s.policy = BatchPolicy::kAimd;
  s.batch_size = 9;
  auto c = CreateBatchController(Options(BatchPolicy::kAimd), &s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->NextBatchSize(), 9);
}

TEST(BatchControllerResumeTest, AnotherPolicysStateOrAStaticPolicyStartsFresh) {
  ControllerState s;
  s.policy = BatchPolicy::kAimd;
  s.batch_size = 9;
  auto trend = CreateBatchController(Options(BatchPolicy::kTrend), &s);
  ASSERT_TRUE(trend.ok());
  EXPECT_EQ((*trend)->NextBatchSize(), 1);
  s.policy = BatchPolicy::kFixed;
  auto fixed = CreateBatchController(Options(BatchPolicy::kFixed), &s);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ((*fixed)->NextBatchSize(), Options(BatchPolicy::kFixed).fixed.batch_size);
}

}  // namespace
}  // namespace batchwise
