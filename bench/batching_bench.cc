// Micro-benchmarks of batching/: the batcher's per-request cost (enqueue + dispatch + completion)
// from 4 producer threads, paced at 100k requests/s and unpaced, per policy; and one controller
// update (Mann–Kendall over the window included) for trend against its aimd baseline.
// Real clock; results are recorded in docs/benchmarks-micro.md.
#include <benchmark/benchmark.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "batching/batch_controller.h"
#include "batching/batcher.h"
#include "batching/mann_kendall.h"

namespace batchwise {
namespace {

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

class CountingTask final : public BatchTask {
 public:
  explicit CountingTask(std::atomic<int64_t>* done) : done_(done) {}
  int size() const override { return 1; }
  void Done(Status) override { done_->fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t>* done_;
};

// One producer: `count` requests, paced to `rate_per_s` (0: as fast as it can); retries a full
// queue. Returns the nanoseconds spent inside Schedule().
template <typename ScheduleFn>
int64_t Produce(ScheduleFn schedule, std::atomic<int64_t>* done, int count, double rate_per_s) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int64_t schedule_ns = 0;
  for (int i = 0; i < count;) {
    // Paced: sleep 200 µs at a time and then send what has come due, as a client pool would,
    // so the cost of pacing (one sleep per request) does not swamp the cost being measured.
    while (rate_per_s > 0 && start + std::chrono::duration<double>(i / rate_per_s) > Clock::now()) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    std::unique_ptr<BatchTask> task = std::make_unique<CountingTask>(done);
    const auto t0 = Clock::now();
    const Status s = schedule(&task);
    schedule_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
    if (s.ok()) {
      ++i;
    } else {
      std::this_thread::yield();
    }
  }
  return schedule_ns;
}

// Args: policy, total rate (requests/s, 0 = unpaced). 4 producers, 100k requests per iteration.
void BM_BatcherEnqueueDispatch(benchmark::State& state) {
  constexpr int kProducers = 4, kRequests = 100'000;
  BatcherOptions o;
  o.controller.policy = static_cast<BatchPolicy>(state.range(0));
  o.controller.max_batch_size = 64;
  o.controller.fixed.batch_size = 32;
  o.controller.latency_target_micros = 2'000;
  o.max_queue_size = 4096;
  o.max_queue_delay_micros = 1'000;
  const double rate = static_cast<double>(state.range(1));
  double cpu = 0, schedule_ns = 0, wall = 0;
  for (auto _ : state) {
    std::atomic<int64_t> done{0};
    auto batcher = Batcher::Create(o, SystemClock(), [](Batch& b) {
      benchmark::DoNotOptimize(b.size());
      return Status::Ok();
    });
    const double cpu0 = ProcessCpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> producers;
    std::atomic<int64_t> ns{0};
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&] {
        ns += Produce([&](std::unique_ptr<BatchTask>* t) { return (*batcher)->Schedule(t); }, &done,
                      kRequests / kProducers, rate / kProducers);
      });
    }
    for (auto& t : producers) t.join();
    while (done.load() < kRequests) std::this_thread::yield();
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cpu += ProcessCpuSeconds() - cpu0;
    schedule_ns += ns.load();
    state.counters["batches"] = static_cast<double>((*batcher)->State().stats.batches);
  }
  const double n = static_cast<double>(state.iterations()) * kRequests;
  state.SetItemsProcessed(static_cast<int64_t>(n));
  state.counters["cpu_ns_per_req"] = cpu / n * 1e9;
  state.counters["schedule_ns_per_req"] = schedule_ns / n;
  state.counters["achieved_req_per_s"] = n / wall;
}
// The harness alone: the same producers and pacing, each task completed at once instead of
// scheduled. Subtracting its cpu_ns_per_req from BM_BatcherEnqueueDispatch's at the same rate
// leaves what enqueue + dispatch + completion cost.
void BM_PacingOnly(benchmark::State& state) {
  constexpr int kProducers = 4, kRequests = 100'000;
  const double rate = static_cast<double>(state.range(0));
  double cpu = 0;
  for (auto _ : state) {
    std::atomic<int64_t> done{0};
    const double cpu0 = ProcessCpuSeconds();
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&] {
        Produce(
            [](std::unique_ptr<BatchTask>* t) {
              (*t)->Done(Status::Ok());
              t->reset();
              return Status::Ok();
            },
            &done, kRequests / kProducers, rate / kProducers);
      });
    }
    for (auto& t : producers) t.join();
    cpu += ProcessCpuSeconds() - cpu0;
  }
  state.counters["cpu_ns_per_req"] =
      cpu / (static_cast<double>(state.iterations()) * kRequests) * 1e9;
}
BENCHMARK(BM_PacingOnly)->ArgName("rate")->Arg(100'000)->Iterations(3)->UseRealTime();

BENCHMARK(BM_BatcherEnqueueDispatch)
    ->ArgNames({"policy", "rate"})
    ->Args({static_cast<int>(BatchPolicy::kFixed), 100'000})
    ->Args({static_cast<int>(BatchPolicy::kTrend), 100'000})
    ->Args({static_cast<int>(BatchPolicy::kFixed), 0})
    ->Args({static_cast<int>(BatchPolicy::kTrend), 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

// One OnBatchDone + NextBatchSize, latencies drawn around the target so the controller keeps
// moving and re-testing. Arg: policy; window n = 64.
void BM_ControllerUpdate(benchmark::State& state) {
  ControllerOptions o;
  o.policy = static_cast<BatchPolicy>(state.range(0));
  o.max_batch_size = 256;
  o.latency_target_micros = 20'000;
  o.trend.window = 64;
  auto controller = CreateBatchController(o);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(1.0, 0.3);
  std::vector<Duration> latencies(4096);
  for (auto& l : latencies)
    l = std::chrono::microseconds(static_cast<int64_t>(20'000 * noise(rng)));
  size_t i = 0;
  for (auto _ : state) {
    const int size = (*controller)->NextBatchSize();
    (*controller)->OnBatchDone({.batch_size = size, .latency = latencies[i++ & 4095]});
    benchmark::DoNotOptimize(size);
  }
  state.counters["settled"] = (*controller)->State().settled;
}
BENCHMARK(BM_ControllerUpdate)
    ->ArgName("policy")
    ->Arg(static_cast<int>(BatchPolicy::kAimd))
    ->Arg(static_cast<int>(BatchPolicy::kTrend));

// The Mann–Kendall test alone over n batch sizes with ties.
void BM_MannKendall(benchmark::State& state) {
  std::mt19937_64 rng(2);
  std::vector<double> x(state.range(0));
  for (auto& v : x) v = static_cast<double>(16 + rng() % 8);
  for (auto _ : state) benchmark::DoNotOptimize(MannKendall(x, 0.05));
}
BENCHMARK(BM_MannKendall)->Arg(8)->Arg(16)->Arg(32)->Arg(64);

}  // namespace
}  // namespace batchwise

BENCHMARK_MAIN();
