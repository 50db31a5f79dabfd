#include "batching/batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "batching/testing/simulated_engine.h"

namespace batchwise {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using Task = CallbackTask<int>;  // payload: a request id

// Records completions and the batches the BatchFn saw; tests block on it (in real time) for
// events, never for time to pass.
class Recorder {
 public:
  std::unique_ptr<BatchTask> NewTask(int id, int size = 1, Duration timeout = Duration::zero(),
                                     TimePoint received = TimePoint{}) {
    return std::make_unique<Task>(
        id, size, [this](Status s, int& id) { OnDone(id, std::move(s)); }, timeout, received);
  }
  Status Add(Batcher& b, int id, int size = 1, Duration timeout = Duration::zero(),
             TimePoint received = TimePoint{}) {
    auto task = NewTask(id, size, timeout, received);
    return b.Schedule(&task);
  }

  BatchFn Fn(std::function<Status(const std::vector<int>&)> run = nullptr) {
    return [this, run](Batch& batch) {
      std::vector<int> ids;
      for (int i = 0; i < batch.num_tasks(); ++i) ids.push_back(batch.task_as<Task>(i).payload());
      {
        std::lock_guard<std::mutex> l(mu_);
        batches_.push_back(ids);
      }
      return run ? run(ids) : Status::Ok();
    };
  }

  void WaitForDone(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return done_.size() >= n; });
  }
  std::vector<std::pair<int, Status>> done() {
    std::lock_guard<std::mutex> l(mu_);
    return done_;
  }
  std::vector<std::vector<int>> batches() {
    std::lock_guard<std::mutex> l(mu_);
    return batches_;
  }

 private:
  void OnDone(int id, Status s) {
    std::lock_guard<std::mutex> l(mu_);
    done_.emplace_back(id, std::move(s));
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<int, Status>> done_;
  std::vector<std::vector<int>> batches_;
};

// A predictor with a fixed answer, to pin the adaptive wait budget.
class FixedPredictor final : public LatencyPredictor {
 public:
  explicit FixedPredictor(Duration d) : d_(d) {}
  Duration Predict(int) const override { return d_; }
  void Observe(int, Duration) override {}

 private:
  Duration d_;
};

BatcherOptions FixedOptions(int size, int64_t delay_micros) {
  BatcherOptions o;
  o.controller.policy = BatchPolicy::kFixed;
  o.controller.max_batch_size = 16;
  o.controller.fixed.batch_size = size;
  o.max_queue_size = 64;
  o.max_queue_delay_micros = delay_micros;
  return o;
}

std::unique_ptr<Batcher> MustCreate(const BatcherOptions& o, Clock& clock, BatchFn fn,
                                    std::unique_ptr<LatencyPredictor> p = nullptr) {
  auto b = Batcher::Create(o, clock, std::move(fn), std::move(p));
  EXPECT_TRUE(b.ok()) << b.status();
  return std::move(b).value();
}

TEST(BatcherTest, CreateRejectsInvalidOptions) {
  FakeClock clock;
  Recorder rec;
  BatcherOptions o = FixedOptions(4, 1000);
  o.max_queue_size = 8;  // below max_batch_size 16
  EXPECT_EQ(Batcher::Create(o, clock, rec.Fn()).status().code(), StatusCode::kInvalidArgument);
  o = FixedOptions(32, 1000);  // fixed size above the maximum
  EXPECT_EQ(Batcher::Create(o, clock, rec.Fn()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Batcher::Create(FixedOptions(4, 1000), clock, nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(BatcherTest, DispatchesAsSoonAsTheBatchReachesItsSize) {
  FakeClock clock;
  Recorder rec;
  auto b = MustCreate(FixedOptions(4, 1'000'000), clock, rec.Fn());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(rec.Add(*b, i).ok());
  rec.WaitForDone(4);  // no time passed
  EXPECT_EQ(rec.batches(), (std::vector<std::vector<int>>{{0, 1, 2, 3}}));
}

TEST(BatcherTest, DispatchesAPartialBatchWhenTheOldestWaitedItsBudget) {
  FakeClock clock;
  Recorder rec;
  auto b = MustCreate(FixedOptions(4, 5000), clock, rec.Fn());
  ASSERT_TRUE(rec.Add(*b, 1).ok());
  clock.Advance(microseconds(1000));
  ASSERT_TRUE(rec.Add(*b, 2).ok());
  clock.BlockUntilWaiters(1);
  clock.Advance(microseconds(3999));  // the oldest has waited 4999 µs
  clock.BlockUntilWaiters(1);
  EXPECT_TRUE(rec.batches().empty());
  clock.Advance(microseconds(1));
  rec.WaitForDone(2);
  EXPECT_EQ(rec.batches(), (std::vector<std::vector<int>>{{1, 2}}));
}

// aimd and trend never hold a batch while the instance is idle: the size is a cap, not a wait.
TEST(BatcherTest, AdaptivePoliciesDispatchWhatIsQueuedAsSoonAsTheInstanceIsIdle) {
  for (BatchPolicy policy : {BatchPolicy::kTrend, BatchPolicy::kAimd}) {
    FakeClock clock;
    Recorder rec;
    BatcherOptions o;
    o.controller.policy = policy;
    o.controller.initial_batch_size = 8;
    o.max_queue_delay_micros = 5'000;  // a cap for fixed/queue_delay; never a wait here
    auto b = MustCreate(o, clock, rec.Fn());
    ASSERT_TRUE(rec.Add(*b, 1).ok());
    rec.WaitForDone(1);  // dispatched without any time passing
    EXPECT_EQ(rec.batches(), (std::vector<std::vector<int>>{{1}})) << BatchPolicyName(policy);
  }
}

// Holds every batch in the BatchFn (in real time) until opened.
class Hold {
 public:
  std::function<Status(const std::vector<int>&)> Fn() {
    return [this](const std::vector<int>&) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return open_; });
      return Status::Ok();
    };
  }
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Admission by time: a task whose predicted completion (the batch in flight's rest, then the
// queue and the task in batches of the current size) lies past the latency target is refused;
// the same task is admitted once the batch in flight has progressed.
TEST(BatcherTest, RefusesATaskPredictedToCompletePastTheLatencyTarget) {
  FakeClock clock;
  Recorder rec;
  Hold hold;
  BatcherOptions o;
  o.controller.policy = BatchPolicy::kTrend;
  o.controller.initial_batch_size = 1;  // cap 1: one batch per task
  o.controller.latency_target_micros = 10'000;
  auto b =
      MustCreate(o, clock, rec.Fn(hold.Fn()), std::make_unique<FixedPredictor>(milliseconds(3)));
  ASSERT_TRUE(rec.Add(*b, 0).ok());  // in flight from t = 0, held in the BatchFn
  while (b->State().queued_samples != 0) std::this_thread::yield();
  ASSERT_TRUE(rec.Add(*b, 1).ok());  // 3 (rest of task 0) + 3 = 6 ms
  ASSERT_TRUE(rec.Add(*b, 2).ok());  // 3 + 6 = 9 ms
  const Status late = rec.Add(*b, 3);  // 3 + 9 = 12 ms > 10 ms
  EXPECT_EQ(late.code(), StatusCode::kUnavailable) << late;
  EXPECT_NE(late.message().find("latency target"), std::string::npos) << late;
  EXPECT_EQ(b->State().stats.rejected_late, 1);
  EXPECT_EQ(b->State().stats.rejected_full, 0);
  clock.Advance(milliseconds(2));     // task 0 has 1 ms left
  ASSERT_TRUE(rec.Add(*b, 3).ok());  // 1 + 9 = 10 ms: within the target
  hold.Open();
  rec.WaitForDone(4);
  for (const auto& [id, status] : rec.done()) EXPECT_TRUE(status.ok()) << id;
}

// The time a request took to arrive (its body's transfer) counts against the target: admitted
// when it arrived at once, refused when 4 of its 10 ms went to arriving; and a batch's end-to-end
// latency counts from the earliest arrival in it.
TEST(BatcherTest, TheTimeATaskTookToArriveCountsInAdmissionAndLatency) {
  FakeClock clock;
  Recorder rec;
  Hold hold;
  BatcherOptions o;
  o.controller.policy = BatchPolicy::kTrend;
  o.controller.initial_batch_size = 1;
  o.controller.latency_target_micros = 10'000;
  auto b =
      MustCreate(o, clock, rec.Fn(hold.Fn()), std::make_unique<FixedPredictor>(milliseconds(3)));
  clock.Advance(milliseconds(5));
  const TimePoint t5 = clock.Now();
  ASSERT_TRUE(rec.Add(*b, 0, 1, Duration::zero(), t5 - milliseconds(1)).ok());  // in flight
  while (b->State().queued_samples != 0) std::this_thread::yield();
  ASSERT_TRUE(rec.Add(*b, 1).ok());  // 3 + 3 = 6 ms
  const Status late = rec.Add(*b, 2, 1, Duration::zero(), t5 - milliseconds(4));  // 4 + 3 + 6
  EXPECT_EQ(late.code(), StatusCode::kUnavailable) << late;
  EXPECT_EQ(b->State().stats.rejected_late, 1);
  ASSERT_TRUE(rec.Add(*b, 2, 1, Duration::zero(), t5 - milliseconds(1)).ok());  // 1 + 3 + 6
  hold.Open();
  rec.WaitForDone(3);
  // Task 0's batch: it arrived 1 ms before Schedule and no fake time passed while it ran.
  EXPECT_DOUBLE_EQ(b->State().controller.last_latency_ms, 1.0);
}

// A task that finds the queue empty is admitted even when one batch alone exceeds the target.
TEST(BatcherTest, ATaskThatFindsTheQueueEmptyIsAlwaysAdmitted) {
  FakeClock clock;
  Recorder rec;
  BatcherOptions o;
  o.controller.policy = BatchPolicy::kAimd;
  o.controller.latency_target_micros = 10'000;
  auto b = MustCreate(o, clock, rec.Fn(), std::make_unique<FixedPredictor>(milliseconds(12)));
  ASSERT_TRUE(rec.Add(*b, 1).ok());
  rec.WaitForDone(1);
  EXPECT_EQ(b->State().stats.rejected_late, 0);
}

TEST(BatcherTest, FullQueueIsUnavailableAndLeavesTheTaskWithTheCaller) {
  FakeClock clock;
  Recorder rec;
  Hold hold;
  BatcherOptions o = FixedOptions(2, 1'000'000);
  o.max_queue_size = 16;
  auto b = MustCreate(o, clock, rec.Fn(hold.Fn()));
  ASSERT_TRUE(rec.Add(*b, 0, 2).ok());  // dispatched at once, then held in the BatchFn
  while (b->State().queued_samples != 0) std::this_thread::yield();
  for (int i = 1; i <= 8; ++i) ASSERT_TRUE(rec.Add(*b, i, 2).ok());  // 16 samples queued
  auto task = rec.NewTask(99);
  const Status s = b->Schedule(&task);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s;
  EXPECT_NE(task, nullptr) << "ownership must stay with the caller on failure";
  EXPECT_EQ(b->State().stats.rejected_full, 1);
  hold.Open();
  rec.WaitForDone(9);
  for (const auto& [id, status] : rec.done()) EXPECT_TRUE(status.ok()) << id;
}

TEST(BatcherTest, RejectsTasksOutsideOneToMaxBatchSize) {
  FakeClock clock;
  Recorder rec;
  auto b = MustCreate(FixedOptions(4, 1000), clock, rec.Fn());
  EXPECT_EQ(rec.Add(*b, 1, 17).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rec.Add(*b, 1, 0).code(), StatusCode::kInvalidArgument);
  std::unique_ptr<BatchTask> null_task;
  EXPECT_EQ(b->Schedule(&null_task).code(), StatusCode::kInvalidArgument);
}

TEST(BatcherTest, TimedOutRequestIsAnsweredAndNeverExecuted) {
  FakeClock clock;
  Recorder rec;
  BatcherOptions o = FixedOptions(4, 100'000);
  o.default_timeout_micros = 10'000;
  auto b = MustCreate(o, clock, rec.Fn());
  ASSERT_TRUE(rec.Add(*b, 1).ok());                       // default timeout: 10 ms
  ASSERT_TRUE(rec.Add(*b, 2, 1, milliseconds(50)).ok());  // its own: 50 ms
  clock.BlockUntilWaiters(1);
  clock.Advance(milliseconds(10));
  rec.WaitForDone(1);
  ASSERT_EQ(rec.done()[0].first, 1);
  EXPECT_EQ(rec.done()[0].second.code(), StatusCode::kDeadlineExceeded);
  clock.Advance(milliseconds(40));
  rec.WaitForDone(2);
  EXPECT_EQ(rec.done()[1].second.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(rec.batches().empty()) << "a timed-out request must never run";
  EXPECT_EQ(b->State().stats.timed_out, 2);
}

TEST(BatcherTest, FailingBatchFailsOnlyItsOwnRequestsWithTheEnginesError) {
  FakeClock clock;
  Recorder rec;
  auto b = MustCreate(FixedOptions(2, 1'000'000), clock, rec.Fn([](const std::vector<int>& ids) {
    return std::count(ids.begin(), ids.end(), 13) > 0 ? Internal("engine exploded") : Status::Ok();
  }));
  for (int id : {1, 2, 13, 4, 5, 6}) ASSERT_TRUE(rec.Add(*b, id).ok());
  rec.WaitForDone(6);
  for (const auto& [id, status] : rec.done()) {
    if (id == 13 || id == 4) {
      EXPECT_EQ(status, Internal("engine exploded")) << id;
    } else {
      EXPECT_TRUE(status.ok()) << id;
    }
  }
  EXPECT_EQ(b->State().stats.failed_batches, 1);
}

TEST(BatcherTest, CompletesInQueueOrderAndMultiSampleTasksRespectTheCap) {
  FakeClock clock;
  Recorder rec;
  auto b = MustCreate(FixedOptions(4, 1000), clock, rec.Fn());
  // Sizes 2,1,3,2,4: batches [2+1] (3 would overflow), [3], [2] waits, then [2+... ] by budget.
  const std::vector<int> sizes = {2, 1, 3, 2, 4};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rec.Add(*b, i, sizes[i]).ok());
  rec.WaitForDone(4);
  clock.BlockUntilWaiters(1);
  EXPECT_EQ(rec.batches(), (std::vector<std::vector<int>>{{0, 1}, {2}, {3}, {4}}));
  std::vector<int> order;
  for (const auto& [id, status] : rec.done()) order.push_back(id);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(BatcherTest, ShutdownAnswersQueuedRequestsUnavailable) {
  FakeClock clock;
  Recorder rec;
  auto b = MustCreate(FixedOptions(4, 1'000'000), clock, rec.Fn());
  ASSERT_TRUE(rec.Add(*b, 1).ok());
  ASSERT_TRUE(rec.Add(*b, 2).ok());
  b.reset();
  ASSERT_EQ(rec.done().size(), 2u);
  for (const auto& [id, status] : rec.done()) EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(rec.batches().empty());
}

// Every policy behind the same batcher: concurrent producers, every request answered exactly once,
// no batch above the cap.
class BatcherPolicyTest : public ::testing::TestWithParam<BatchPolicy> {};

TEST_P(BatcherPolicyTest, ConcurrentProducersAreEachAnsweredExactlyOnce) {
  FakeClock clock;
  Recorder rec;
  BatcherOptions o;
  o.controller.policy = GetParam();
  o.controller.max_batch_size = 8;
  o.controller.fixed.batch_size = 4;
  o.controller.initial_batch_size = 2;
  o.max_queue_size = 4096;
  o.max_queue_delay_micros = 1000;
  auto b = MustCreate(o, clock, rec.Fn());
  constexpr int kThreads = 4, kPerThread = 500;
  {
    std::vector<std::jthread> producers;
    for (int t = 0; t < kThreads; ++t) {
      producers.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) ASSERT_TRUE(rec.Add(*b, t * kPerThread + i).ok());
      });
    }
  }
  while (b->State().queued_samples > 0) {  // the tail waits for its budget
    clock.Advance(milliseconds(1));
    std::this_thread::yield();
  }
  rec.WaitForDone(kThreads * kPerThread);
  std::vector<int> ids;
  for (const auto& [id, status] : rec.done()) {
    EXPECT_TRUE(status.ok());
    ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  for (int i = 0; i < kThreads * kPerThread; ++i) ASSERT_EQ(ids[i], i);
  for (const auto& batch : rec.batches()) EXPECT_LE(batch.size(), 8u);
  EXPECT_EQ(b->State().stats.completed_samples, kThreads * kPerThread);
}

// The batcher on the fake clock drives a simulated engine under overload: the BatchFn "computes"
// by advancing fake time and then enqueues the requests that arrived meanwhile. Everything that
// moves time or schedules runs on the batcher's thread, so the run is deterministic.
TEST_P(BatcherPolicyTest, ServesASimulatedEngineUnderOverload) {
  FakeClock clock;
  testing::SimulatedEngine engine({.noise_fraction = 0.05, .seed = 3});
  constexpr int kBatches = 400;
  constexpr double kArrivalsPerMs = 3.0;  // above the engine's capacity at any size
  BatcherOptions o;
  o.controller.policy = GetParam();
  o.controller.latency_target_micros = 20'000;
  o.controller.fixed.batch_size = 8;
  o.max_queue_size = 256;
  o.max_queue_delay_micros = 0;  // only the BatchFn moves time: no policy may wait for it
  std::unique_ptr<Batcher> b;
  std::mutex mu;
  std::condition_variable cv;
  int batches = 0;
  double carry = 0;
  int64_t good_samples = 0;
  Recorder rec;
  const TimePoint start = clock.Now();
  auto fn = [&](Batch& batch) {
    std::lock_guard<std::mutex> l(mu);
    if (batches >= kBatches) return Unavailable("simulation over");  // not learned from
    const Duration latency = engine.Latency(batch.size());
    clock.Advance(latency);
    if (latency <= milliseconds(20)) good_samples += batch.size();
    carry += kArrivalsPerMs * std::chrono::duration<double, std::milli>(latency).count();
    for (; carry >= 1; carry -= 1) (void)rec.Add(*b, 0);
    if (++batches == kBatches) cv.notify_all();
    return Status::Ok();
  };
  b = MustCreate(o, clock, fn);
  {
    std::unique_lock<std::mutex> l(mu);  // the BatchFn waits until the queue is full
    for (int i = 0; i < o.max_queue_size; ++i) ASSERT_TRUE(rec.Add(*b, 0).ok());
    cv.wait(l, [&] { return batches >= kBatches; });
  }
  const BatcherState s = b->State();
  const double seconds = std::chrono::duration<double>(clock.Now() - start).count();
  std::printf(
      "%-11s via batcher: size %2d settled %d direction changes %3lld goodput %.0f/s "
      "rejected %lld full, %lld late\n",
      std::string(BatchPolicyName(GetParam())).c_str(), s.controller.batch_size,
      s.controller.settled, static_cast<long long>(s.controller.direction_changes),
      good_samples / seconds, static_cast<long long>(s.stats.rejected_full),
      static_cast<long long>(s.stats.rejected_late));
  // Overload is refused, by time (the queue holds more than the target's worth of work) before the
  // queue reaches its absolute cap.
  EXPECT_GT(s.stats.rejected_late, 0) << "overload must be refused, not queued without bound";
  EXPECT_LE(s.queued_samples, o.max_queue_size);
  if (GetParam() == BatchPolicy::kTrend) {
    // The controller steers by end-to-end latency (queue wait + compute). Admission by time keeps
    // every admitted request's wait near the target whatever the size, so in this backlog it
    // grows the size while its compute fits in half the target and holds there (a request waits
    // out one batch and runs in the next), without swinging back and forth; it never holds a size
    // whose compute alone exceeds the target.
    const int best = engine.LargestSizeWithin(20'000, o.controller.max_batch_size);
    EXPECT_LE(s.controller.batch_size, best + 1);
    EXPECT_GE(s.controller.batch_size, engine.LargestSizeWithin(10'000, 64) - 2 * 2);
    EXPECT_LE(s.controller.direction_changes, 2);
  }
  b.reset();  // the queued remainder is answered UNAVAILABLE
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, BatcherPolicyTest,
                         ::testing::Values(BatchPolicy::kFixed, BatchPolicy::kQueueDelay,
                                           BatchPolicy::kAimd, BatchPolicy::kTrend),
                         [](const auto& info) { return std::string(BatchPolicyName(info.param)); });

}  // namespace
}  // namespace batchwise
