#include "profile/profiler.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

namespace batchwise {
namespace {

using Ms = std::chrono::duration<double, std::milli>;
using Seconds = std::chrono::duration<double>;

}  // namespace

// Batch completions reported by the instance threads of one cell, stamped with the clock.
class CellRecorder {
 public:
  struct Completion {
    TimePoint end;
    int instance;
    int batch;
    double latency_ms;
  };
  struct Stats {
    std::vector<double> latencies_ms;
    // Closed-loop throughput: each instance runs batch after batch, so its rate is the samples
    // it completed over the time it spent on them; the instances' rates add up. Unlike counting
    // completions per window, this has no quantisation error when batches are long.
    double throughput = 0;
    size_t max_completions_per_instance = 0;
  };
  void Record(Completion c) {
    std::lock_guard<std::mutex> l(mu_);
    done_.push_back(c);
  }
  void Fail(Status s) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (error_.ok()) error_ = std::move(s);
    }
    failed_.notify_all();
  }
  // Sleeps on `clock` until `deadline`, or until an instance fails; returns false on failure.
  bool SleepUntil(Clock& clock, TimePoint deadline) {
    std::unique_lock<std::mutex> l(mu_);
    while (error_.ok() && !clock.WaitUntil(l, failed_, deadline)) {
    }
    return error_.ok();
  }
  // The batches that completed in [from, to).
  Stats Window(TimePoint from, TimePoint to, int instances) {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<double> samples(instances), busy_ms(instances);
    std::vector<size_t> count(instances);
    Stats st;
    for (const auto& c : done_) {
      if (c.end < from || c.end >= to) continue;
      samples[c.instance] += c.batch;
      busy_ms[c.instance] += c.latency_ms;
      ++count[c.instance];
      st.latencies_ms.push_back(c.latency_ms);
    }
    for (int i = 0; i < instances; ++i) {
      if (busy_ms[i] > 0) st.throughput += samples[i] * 1000.0 / busy_ms[i];
      st.max_completions_per_instance = std::max(st.max_completions_per_instance, count[i]);
    }
    return st;
  }
  Status error() {
    std::lock_guard<std::mutex> l(mu_);
    return error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable failed_;
  std::vector<Completion> done_;  // GUARDED_BY(mu_)
  Status error_;                  // GUARDED_BY(mu_)
};

namespace {

void LoopBatches(Engine& engine, int instance, int batch, Clock& clock, CellRecorder& rec,
                 std::stop_token stop) {
  std::vector<Tensor> inputs =
      MakeRandomBatch(engine.inputs(), batch, static_cast<uint32_t>(instance + 1));
  while (!stop.stop_requested()) {
    TimePoint t0 = clock.Now();
    auto out = engine.Run(inputs);
    if (!out.ok()) {
      rec.Fail(out.status());
      return;
    }
    TimePoint t1 = clock.Now();
    rec.Record({t1, instance, batch, Ms(t1 - t0).count()});
  }
}

bool Stable(const std::vector<double>& tputs, int n, double pct) {
  if (static_cast<int>(tputs.size()) < n) return false;
  auto first = tputs.end() - n;
  double mean = std::accumulate(first, tputs.end(), 0.0) / n;
  if (mean <= 0) return false;
  return std::all_of(first, tputs.end(),
                     [&](double t) { return std::abs(t - mean) <= mean * pct / 100.0; });
}

template <typename T>
void FillRandom(Tensor& t, std::mt19937& rng) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  for (T& v : t.mutable_as<T>()) v = static_cast<T>(dist(rng));
}

}  // namespace

Status Profiler::Validate(const ProfileOptions& o) {
  if (o.batch_sizes.empty() || o.instance_counts.empty()) {
    return InvalidArgument("profile needs at least one batch size and one instance count");
  }
  for (int b : o.batch_sizes) {
    if (b < 1) return InvalidArgument("batch sizes must be >= 1");
  }
  for (int k : o.instance_counts) {
    if (k < 1) return InvalidArgument("instance counts must be >= 1");
  }
  if (o.window <= Duration::zero() || o.stable_windows < 1 || o.stability_percent <= 0) {
    return InvalidArgument("window must be > 0, stable_windows >= 1, stability_percent > 0");
  }
  return Status::Ok();
}

Status Profiler::Run(const SweepEngineFactory& factory, const UtilizationProbe& utilization,
                     const ProgressCallback& progress, PerfTable& table) {
  BW_RETURN_IF_ERROR(Validate(options_));
  std::vector<std::unique_ptr<Engine>> engines;
  ProfileProgress p;
  p.cells = static_cast<int>(options_.batch_sizes.size() * options_.instance_counts.size());
  for (int k : options_.instance_counts) {
    engines.clear();  // each instance count gets its own instances, sized for k
    for (int i = 0; i < k; ++i) {
      BW_ASSIGN_OR_RETURN(auto engine, factory(i, k));
      engines.push_back(std::move(engine));
    }
    bool too_slow = false;
    for (int b : options_.batch_sizes) {
      ++p.cell;
      p.batch_size = b;
      p.instances = k;
      if (progress) progress(p);
      if (too_slow) continue;
      BW_ASSIGN_OR_RETURN(PerfCell cell, MeasureCell(engines, k, b, utilization));
      too_slow = cell.latency_p50_ms > Ms(options_.max_batch_latency).count();
      table.cells.push_back(cell);
    }
  }
  return Status::Ok();
}

Result<PerfCell> Profiler::MeasureCell(std::vector<std::unique_ptr<Engine>>& engines,
                                       int instances, int batch,
                                       const UtilizationProbe& utilization) {
  CellRecorder rec;
  std::vector<std::jthread> workers;
  for (int i = 0; i < instances; ++i) {
    workers.emplace_back(
        [&, i](std::stop_token st) { LoopBatches(*engines[i], i, batch, *clock_, rec, st); });
  }
  BW_ASSIGN_OR_RETURN(Duration window, WarmUp(rec, instances));
  // Windows are fixed slices of time after the warm-up; a batch belongs to the window in which
  // it completed, so no batch is counted twice or lost between windows.
  const TimePoint start = clock_->Now();
  std::vector<double> tputs;
  int windows = 0;
  for (;;) {
    TimePoint from = start + window * windows;
    TimePoint to = from + window;
    if (!rec.SleepUntil(*clock_, to)) break;
    ++windows;
    tputs.push_back(rec.Window(from, to, instances).throughput);
    if (Stable(tputs, options_.stable_windows, options_.stability_percent)) break;
    if (to - start >= options_.max_cell_duration) break;
  }
  for (auto& w : workers) w.request_stop();
  workers.clear();  // joins
  BW_RETURN_IF_ERROR(rec.error());

  // The cell's numbers come from the last `stable_windows` windows taken together.
  int n = std::min(windows, options_.stable_windows);
  CellRecorder::Stats st = rec.Window(start + window * (windows - n), start + window * windows,
                                      instances);
  const std::vector<double>& lat = st.latencies_ms;
  PerfCell cell;
  cell.batch_size = batch;
  cell.instances = instances;
  cell.throughput = st.throughput;
  cell.latency_avg_ms = lat.empty() ? 0 : std::accumulate(lat.begin(), lat.end(), 0.0) / lat.size();
  cell.latency_p50_ms = Percentile(lat, 50);
  cell.latency_p90_ms = Percentile(lat, 90);
  cell.latency_p99_ms = Percentile(lat, 99);
  for (int i = 0; i < instances; ++i) cell.memory_bytes += engines[i]->memory_footprint_bytes();
  if (utilization) cell.utilization = utilization().value_or(-1);
  return cell;
}

Result<Duration> Profiler::WarmUp(CellRecorder& rec, int instances) {
  // Warm up for at least `warmup` and until a batch has completed, so the window can be sized:
  // at least 5 batch latencies, or one window would hold too few batches to judge stability.
  const TimePoint begin = clock_->Now();
  TimePoint until = begin + options_.warmup;
  for (;;) {
    if (!rec.SleepUntil(*clock_, until)) return rec.error();
    CellRecorder::Stats st = rec.Window(begin, until, instances);
    if (st.max_completions_per_instance > 0) {
      double slowest = *std::max_element(st.latencies_ms.begin(), st.latencies_ms.end());
      return std::max<Duration>(options_.window,
                                std::chrono::duration_cast<Duration>(Ms(5 * slowest)));
    }
    if (until - begin >= options_.max_cell_duration) {
      return DeadlineExceeded("no batch completed within the cell's time cap");
    }
    until += std::max<Duration>(options_.warmup, std::chrono::milliseconds(10));
  }
}

std::vector<Tensor> MakeRandomBatch(const std::vector<TensorSpec>& inputs, int batch,
                                    uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Tensor> out;
  for (const auto& spec : inputs) {
    Shape shape = spec.shape;
    if (!shape.empty()) shape[0] = batch;
    for (auto& d : shape) d = std::max<int64_t>(d, 1);
    Tensor t = Tensor::Allocate(spec.dtype, shape);
    if (spec.dtype == DataType::kFp32) FillRandom<float>(t, rng);
    if (spec.dtype == DataType::kFp64) FillRandom<double>(t, rng);
    out.push_back(std::move(t));
  }
  return out;
}

double Percentile(std::vector<double> samples, double pct) {
  if (samples.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(pct / 100.0 * samples.size()));
  rank = std::clamp<size_t>(rank, 1, samples.size());
  std::nth_element(samples.begin(), samples.begin() + (rank - 1), samples.end());
  return samples[rank - 1];
}

}  // namespace batchwise
