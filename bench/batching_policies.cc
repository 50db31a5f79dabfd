// Batching policies side by side under a stepped Poisson load on a simulated accelerator.
//
// Every variant (fixed at several sizes, queue_delay, aimd, trend) runs in this one process, one
// after another, on the same seeded arrival sequence: the real Batcher and controllers, the real
// simulated engine replaying NVIDIA's published A100 ResNet-50 table (throughput rises steeply with
// batch size), the open-loop load generator counting latency from each request's intended send
// time. All latencies are simulated-device latencies plus this machine's real queueing and
// scheduling: results are labelled simulated.
//
// Fixed sizes run twice: with the same 5 ms dispatch cap as queue_delay (a partial batch leaves
// after 5 ms, which makes a large fixed size adapt at low load), and "full" (a batch leaves when
// full or when its oldest request has waited the whole SLO: a static batch size).
//
//   build/bench/batching_policies [--phases 10s@0.3,10s@0.9,10s@0.5] [--slo-ms 20] [--json out.json]
//                                 [--plot-dir DIR]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "backend/engine.h"
#include "batching/batcher.h"
#include "common/perf_table.h"
#include "loadgen/driver.h"
#include "loadgen/load_report.h"

namespace batchwise {
namespace {

struct Variant {
  std::string name;
  BatchPolicy policy;
  int fixed_size = 0;
  // How long the oldest request may wait for its batch to fill, as a share of the SLO.
  // 0.25 (5 ms of a 20 ms SLO) for every variant but the "full" fixed ones, which wait up to the
  // whole SLO: a fixed size that dispatches only full batches unless a request would otherwise
  // wait past its target (a static batch size, the baseline without a short dispatch cap).
  double wait_share_of_slo = 0.25;
};

struct Args {
  std::string table_csv = "data/tables/resnet50_gpu_published.csv";
  std::string processor = "a100-80gb";
  std::string phases = "10s@0.3,10s@0.9,10s@0.5";  // fractions of the table's capacity
  double slo_ms = 20;
  int max_batch = 128;
  uint64_t seed = 1;
  std::string json_path;
  std::string plot_dir;  // a PNG per variant: latency, goodput and batch size over time
};

// A request of one sample; the engine's output is not read back (the latency is what counts).
struct Request {
  std::function<void(Status)> done;
};

// Phases in fractions of capacity become phases in requests/s.
Result<RateSchedule> Schedule(const Args& a, double capacity) {
  BW_ASSIGN_OR_RETURN(RateSchedule s, RateSchedule::Parse(a.phases));
  std::vector<RatePhase> phases = s.phases();
  for (auto& p : phases) {
    p.start_rate_per_s *= capacity;
    p.end_rate_per_s *= capacity;
  }
  return RateSchedule(std::move(phases));
}

BatcherOptions OptionsFor(const Variant& v, const Args& a) {
  BatcherOptions o;
  o.controller.policy = v.policy;
  o.controller.max_batch_size = a.max_batch;
  o.controller.latency_target_micros = static_cast<int64_t>(a.slo_ms * 1000);
  o.controller.fixed.batch_size = v.fixed_size ? v.fixed_size : 8;
  o.max_queue_size = 4096;
  o.max_queue_delay_micros = static_cast<int64_t>(a.slo_ms * 1000 * v.wait_share_of_slo);
  o.default_timeout_micros = static_cast<int64_t>(a.slo_ms * 1000 * 10);
  return o;
}

// Counts reversals of the controller's batch size, sampled every 5 ms while the load runs, and
// keeps the samples (for the plot).
class SizeSampler {
 public:
  SizeSampler(const Batcher& b, TimePoint start)
      : thread_([this, &b, start](std::stop_token st) {
          while (!st.stop_requested()) {
            const int size = b.State().controller.batch_size;
            Observe(size);
            ControllerPoller::Sample sample;
            sample.t_s = std::chrono::duration<double>(SystemClock().Now() - start).count();
            sample.batch_size = size;
            sample.direction_changes = reversals_;
            samples_.push_back(sample);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  // Stops sampling; the counts and samples are final after this.
  void Stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  ~SizeSampler() { Stop(); }
  int reversals() const { return reversals_; }
  int last() const { return last_; }
  const std::vector<ControllerPoller::Sample>& samples() const { return samples_; }

 private:
  void Observe(int size) {
    if (last_ && size != last_) {
      int dir = size > last_ ? 1 : -1;
      if (dir_ && dir != dir_) ++reversals_;
      dir_ = dir;
    }
    last_ = size;
  }
  int last_ = 0, dir_ = 0;
  std::atomic<int> reversals_{0};
  std::vector<ControllerPoller::Sample> samples_;  // written by thread_ only, read after Stop()
  std::jthread thread_;
};

struct Outcome {
  Variant variant;
  OpenLoopResult result;
  int reversals = 0;
  int final_size = 0;
  std::vector<LoadTimeSeries::Window> series;      // 250 ms windows
  std::vector<ControllerPoller::Sample> sizes;     // the batch size every 5 ms
};

constexpr double kWindowS = 0.25;

Result<Outcome> RunVariant(const Variant& v, const Args& a, Engine& engine,
                           const RateSchedule& schedule, const PerfTable& table) {
  // The simulated device's latency comes from its table, not from the data: a small input keeps
  // the host's copying and output hashing out of the measurement.
  Tensor input = Tensor::Allocate(DataType::kFp32, {1, 16});
  BatchFn run = [&](Batch& batch) -> Status {
    std::vector<Tensor> parts(batch.size(), input);
    BW_ASSIGN_OR_RETURN(Tensor joined, ConcatBatch(parts));
    return engine.Run(std::span<const Tensor>(&joined, 1)).status();
  };
  BW_ASSIGN_OR_RETURN(auto batcher, Batcher::Create(OptionsFor(v, a), SystemClock(), run,
                                                   NewPerfTablePredictor(table)));
  const TimePoint start = SystemClock().Now();
  SizeSampler sampler(*batcher, start);
  SendFn send = [&](uint64_t, std::function<void(Status)> done) {
    auto task = std::make_unique<CallbackTask<Request>>(
        Request{done}, 1, [](Status s, Request& r) { r.done(std::move(s)); });
    std::unique_ptr<BatchTask> t = std::move(task);
    Status s = batcher->Schedule(&t);
    if (!s.ok()) done(s);  // refused: the task was not taken
  };
  ArrivalGenerator arrivals(schedule, ArrivalProcess::kPoisson, a.seed);
  DriverOptions d;
  d.slo = std::chrono::microseconds(static_cast<int64_t>(a.slo_ms * 1000));
  LoadTimeSeries series(
      start, std::chrono::duration_cast<Duration>(std::chrono::duration<double>(kWindowS)), d.slo);
  d.on_complete = [&series](TimePoint intended, TimePoint done, const Status& s) {
    series.Record(intended, done, s);
  };
  Outcome out{v, RunOpenLoop(SystemClock(), arrivals, send, d), 0, 0};
  sampler.Stop();
  out.reversals = sampler.reversals();
  out.final_size = sampler.last();
  out.series = series.Take();
  out.sizes = sampler.samples();
  for (auto& sample : out.sizes) sample.model = v.name;  // the plot's lines go by model name
  return out;
}

void PrintPhase(const std::vector<Outcome>& all, size_t phase, const RateSchedule& s) {
  const RatePhase& p = s.phases()[phase];
  std::printf("\nphase %zu: %.0f s at %.0f req/s (simulated A100)\n", phase + 1,
              std::chrono::duration<double>(p.duration).count(), p.start_rate_per_s);
  std::printf("%-14s %10s %10s %9s %9s %9s %8s\n", "policy", "goodput/s", "tput/s", "SLO att.",
              "p50 ms", "p99 ms", "errors");
  double best_fixed = 0;
  for (const auto& o : all) {
    const LoadReport& r = o.result.phases[phase];
    uint64_t errors = 0;
    for (const auto& [k, n] : r.errors) errors += n;
    std::printf("%-14s %10.1f %10.1f %8.1f%% %9.2f %9.2f %8llu\n", o.variant.name.c_str(),
                r.goodput_per_s(), r.throughput_per_s(), 100 * r.slo_attainment(),
                std::chrono::duration<double, std::milli>(r.latency.Percentile(50)).count(),
                std::chrono::duration<double, std::milli>(r.latency.Percentile(99)).count(),
                static_cast<unsigned long long>(errors + r.not_sent));
    if (o.variant.policy == BatchPolicy::kFixed) best_fixed = std::max(best_fixed, r.goodput_per_s());
  }
  std::printf("hindsight-best fixed goodput: %.1f/s\n", best_fixed);
}

int Main(const Args& a) {
  auto table = PerfTable::FromPublishedCsv(a.table_csv, a.processor);
  if (!table.ok()) {
    std::fprintf(stderr, "%s\n", table.status().ToString().c_str());
    return 1;
  }
  std::string path = (std::filesystem::temp_directory_path() / "batching_policies_table.json").string();
  if (!table->Save(path).ok()) return 1;
  EngineOptions eo;
  eo.model_path = path;
  eo.inputs = {{"input", DataType::kFp32, {-1, 16}}};
  eo.outputs = {{"logits", DataType::kFp32, {-1, 8}}};
  auto engine = CreateEngine(EngineKind::kSimulated, eo);
  auto schedule = Schedule(a, table->ProcessingPerformance());
  if (!engine.ok() || !schedule.ok()) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }
  std::vector<Variant> variants = {{"fixed 8", BatchPolicy::kFixed, 8},
                                    {"fixed 16", BatchPolicy::kFixed, 16},
                                    {"fixed 32", BatchPolicy::kFixed, 32},
                                    {"fixed 64", BatchPolicy::kFixed, 64},
                                    {"fixed 8 full", BatchPolicy::kFixed, 8, 1.0},
                                    {"fixed 16 full", BatchPolicy::kFixed, 16, 1.0},
                                    {"fixed 32 full", BatchPolicy::kFixed, 32, 1.0},
                                    {"fixed 64 full", BatchPolicy::kFixed, 64, 1.0},
                                    {"queue_delay", BatchPolicy::kQueueDelay},
                                    {"aimd", BatchPolicy::kAimd},
                                    {"trend", BatchPolicy::kTrend}};
  std::vector<Outcome> all;
  for (const auto& v : variants) {
    std::fprintf(stderr, "running %s ...\n", v.name.c_str());
    auto o = RunVariant(v, a, **engine, *schedule, *table);
    if (!o.ok()) {
      std::fprintf(stderr, "%s: %s\n", v.name.c_str(), o.status().ToString().c_str());
      return 1;
    }
    all.push_back(std::move(*o));
  }
  std::printf("Batching policies, SLO %.0f ms, Poisson load %s of %.0f samples/s capacity "
              "(SIMULATED %s from published figures)\n",
              a.slo_ms, a.phases.c_str(), table->ProcessingPerformance(), a.processor.c_str());
  for (size_t i = 0; i < schedule->phases().size(); ++i) PrintPhase(all, i, *schedule);
  std::printf("\n%-14s %10s %9s %12s %10s\n", "policy", "goodput/s", "SLO att.", "reversals",
              "final size");
  nlohmann::json j = nlohmann::json::array();
  for (const auto& o : all) {
    const LoadReport& r = o.result.total;
    std::printf("%-14s %10.1f %8.1f%% %12d %10d\n", o.variant.name.c_str(), r.goodput_per_s(),
                100 * r.slo_attainment(), o.reversals, o.final_size);
    nlohmann::json phases = nlohmann::json::array();
    for (const auto& p : o.result.phases) phases.push_back(p.ToJson());
    j.push_back({{"policy", o.variant.name}, {"total", r.ToJson()}, {"phases", phases},
                 {"reversals", o.reversals}, {"final_size", o.final_size}});
  }
  // The headline ratios: trend against the best single fixed size of each kind over the whole
  // run, and against aimd's direction changes.
  double best_capped = 0, best_full = 0;
  const Outcome* trend = nullptr;
  const Outcome* aimd = nullptr;
  for (const auto& o : all) {
    const double g = o.result.total.goodput_per_s();
    if (o.variant.policy == BatchPolicy::kFixed) {
      double& best = o.variant.wait_share_of_slo < 1 ? best_capped : best_full;
      best = std::max(best, g);
    }
    if (o.variant.policy == BatchPolicy::kTrend) trend = &o;
    if (o.variant.policy == BatchPolicy::kAimd) aimd = &o;
  }
  if (trend && aimd && best_capped > 0 && best_full > 0) {
    const double g = trend->result.total.goodput_per_s();
    std::printf("\ntrend goodput over the whole run: %.2fx the best single fixed size with a "
                "%.0f ms dispatch cap, %.2fx the best single full-batch fixed size; direction "
                "changes %d vs aimd's %d\n",
                g / best_capped, a.slo_ms / 4, g / best_full, trend->reversals, aimd->reversals);
  }
  if (!a.json_path.empty()) std::ofstream(a.json_path) << j.dump(2) << "\n";
  if (!a.plot_dir.empty()) {
    std::filesystem::create_directories(a.plot_dir);
    for (const auto& o : all) {
      ModelLoadResult m;
      m.model = o.variant.name;
      m.slo_ms = a.slo_ms;
      m.result = o.result;
      m.series = o.series;
      for (const auto& p : schedule->phases()) {
        m.phase_labels.push_back(
            fmt::format("{:.0f}s@{:.0f}/s", std::chrono::duration<double>(p.duration).count(),
                        p.start_rate_per_s));
      }
      std::string file = o.variant.name;
      std::replace(file.begin(), file.end(), ' ', '_');
      const std::string png = (std::filesystem::path(a.plot_dir) / (file + ".png")).string();
      Status s = WriteLoadPlot({m}, o.sizes, png, kWindowS,
                               o.variant.name + " on a simulated " + a.processor + ", " + a.phases);
      if (!s.ok()) std::fprintf(stderr, "plot %s: %s\n", png.c_str(), s.ToString().c_str());
    }
  }
  return 0;
}

}  // namespace
}  // namespace batchwise

int main(int argc, char** argv) {
  batchwise::Args a;
  CLI::App app{"Batching policies side by side on a simulated accelerator"};
  app.add_option("--table", a.table_csv, "Published table CSV")->capture_default_str();
  app.add_option("--processor", a.processor, "Processor in the table")->capture_default_str();
  app.add_option("--phases", a.phases, "Load phases, rates as fractions of capacity")
      ->capture_default_str();
  app.add_option("--slo-ms", a.slo_ms, "Latency target")->capture_default_str();
  app.add_option("--max-batch", a.max_batch, "Largest batch")->capture_default_str();
  app.add_option("--seed", a.seed, "Arrival seed")->capture_default_str();
  app.add_option("--json", a.json_path, "Write results as JSON");
  app.add_option("--plot-dir", a.plot_dir,
                 "Write a PNG per variant (latency, goodput, batch size over time) here");
  CLI11_PARSE(app, argc, argv);
  return batchwise::Main(a);
}
