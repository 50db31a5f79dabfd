// Placement benchmark (issue 4): the same four models and the same open-loop demand served by the
// real Scheduler under three placements, side by side in one run:
//   least-workload  Scheduler::LoadModel's own choice (the seed method, S2-S3);
//   all-on-fastest  every model pinned to sim:a100 (the pile-up the method exists to avoid);
//   round-robin     model i on processor i mod n, in discovery order.
// Two fleets, each with its own demand, one after the other:
//   small  sim:cpu0, sim:cpu1, sim:a100, sim:npu0 (data/processors/simulated.json): the A100
//          alone could serve 90 % of the demand's work;
//   mixed  the same plus sim:v100 (data/processors/mixed_fleet.json) and a demand of 1.65x what
//          the A100 alone can serve.
// sim:cpu0 and sim:cpu1 replay this machine's measured ResNet-50 TorchScript figures
// (docs/engines.md, 1 thread per core); the accelerators replay the published tables.
// ALL ARE SIMULATED: no GPU, NPU or CPU compute happens; each batch waits its table latency on
// the real clock, one batch at a time per processor.
// A model's latency on a processor is the ResNet-50 table scaled by the model's relative cost,
// measured on this machine's CPU (docs/engines.md, TorchScript, batch 8). Results go in
// docs/placement.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>

#include "device/monitor.h"
#include "device/simulated.h"
#include "serving/scheduler.h"

namespace batchwise {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

struct BenchModel {
  const char* name;
  double cost;          // latency relative to resnet50 on the same processor
  double demand_per_s;  // samples/s offered, open loop
};
// Costs: samples/s at batch 8, 1 thread, TorchScript, this machine (docs/engines.md):
// resnet50 11.4, resnet18 30.4, mobilenet_v2 92.0, mlp_forecaster 75835.
constexpr double kCosts[] = {1.0, 11.4 / 30.4, 11.4 / 92.0, 11.4 / 75835.0};
constexpr const char* kNames[] = {"resnet50", "resnet18", "mobilenet_v2", "mlp_forecaster"};
constexpr int kModelCount = 4;

struct Fleet {
  const char* name;
  const char* processors_json;       // accelerators, besides the two CPU cores
  double demand_per_s[kModelCount];  // samples/s per model, in kNames order
};
// small: 3133 ResNet-50-equivalent samples/s of work against the A100's 2858 at batch 32.
// mixed: 4722 of work (1.65x the A100) against A100 + V100 + NPU at 6032.
constexpr Fleet kFleets[] = {
    {"small", "data/processors/simulated.json", {2000, 3000, 60, 2000}},
    {"mixed", "data/processors/mixed_fleet.json", {2400, 4200, 6000, 2000}}};

std::vector<BenchModel> ModelsOf(const Fleet& f) {
  std::vector<BenchModel> out;
  for (int i = 0; i < kModelCount; ++i) out.push_back({kNames[i], kCosts[i], f.demand_per_s[i]});
  return out;
}
constexpr int kSamplesPerRequest = 4;

double CostOf(const std::string& name) {
  for (int i = 0; i < kModelCount; ++i) {
    if (name == kNames[i]) return kCosts[i];
  }
  return 1;
}

// ResNet-50, TorchScript, 1 thread on one core of this machine (docs/engines.md engine_bench).
PerfTable CpuCoreTable() {
  PerfTable t;
  t.processor_id = "cpu-core";
  t.processor_kind = "cpu";
  t.simulated = true;
  t.source = "docs/engines.md: engine_bench resnet50 torchscript 1 thread (replayed)";
  t.model_name = "resnet50";
  t.engine = "simulated";
  const double rows[][3] = {{1, 12.3, 80.38},
                            {2, 12.9, 154.65},
                            {4, 11.3, 351.23},
                            {8, 11.4, 698.04},
                            {16, 10.3, 1536.87}};
  for (const auto& r : rows) {
    t.cells.push_back({.batch_size = static_cast<int>(r[0]),
                       .instances = 1,
                       .throughput = r[1],
                       .latency_avg_ms = r[2],
                       .latency_p50_ms = r[2],
                       .latency_p90_ms = r[2],
                       .latency_p99_ms = r[2]});
  }
  return t;
}

Processor SimCpu(const std::string& id) {
  Processor p;
  p.id = id;
  p.kind = ProcessorKind::kCpu;
  p.simulated = true;
  p.memory_bytes = 16 * kGiB;
  p.model = "one CPU core (replayed)";
  p.table = std::make_shared<PerfTable>(CpuCoreTable());
  p.load = std::make_shared<SimulatedLoad>(p.memory_bytes);
  p.signature = SimulatedSignature(*p.table, p.memory_bytes);
  return p;
}

Result<std::vector<Processor>> BenchProcessors(const std::string& source_dir, const Fleet& f) {
  std::vector<Processor> out = {SimCpu("sim:cpu0"), SimCpu("sim:cpu1")};
  BW_ASSIGN_OR_RETURN(auto accel, LoadSimulatedProcessors(source_dir + "/" + f.processors_json));
  for (auto& p : accel) out.push_back(std::move(p));
  return out;
}

// Tensors are small: a simulated processor never reads them, and the bench should measure
// placement, not memcpy on a 2-core machine.
ModelConfig BenchConfig(const BenchModel& m) {
  ModelConfig c;
  c.name = m.name;
  c.max_batch_size = 32;
  c.inputs = {{"x", DataType::kFp32, {-1, 16}}};
  c.outputs = {{"y", DataType::kFp32, {-1, 10}}};
  return c;
}

PerfTable Scaled(const PerfTable& t, double cost) {
  PerfTable s = t;
  for (auto& c : s.cells) {
    c.throughput /= cost;
    for (double* l : {&c.latency_avg_ms, &c.latency_p50_ms, &c.latency_p90_ms, &c.latency_p99_ms}) {
      *l *= cost;
    }
  }
  return s;
}

// The backend's simulated engine on the processor's table scaled by the model's cost.
EngineFactory ScaledSimulatedFactory(std::string dir) {
  return [dir](const InstanceSpec& spec) -> Result<std::unique_ptr<Engine>> {
    std::string file = spec.processor->id + "_" + spec.config->name + ".json";
    std::replace(file.begin(), file.end(), ':', '_');
    const std::string path = (std::filesystem::path(dir) / file).string();
    BW_RETURN_IF_ERROR(Scaled(*spec.processor->table, CostOf(spec.config->name)).Save(path));
    EngineOptions o;
    o.model_path = path;
    o.target = spec.target;
    o.inputs = spec.config->inputs;
    o.outputs = spec.config->outputs;
    o.clock = spec.clock;
    o.simulated_memory_bytes = kGiB;
    return CreateEngine(EngineKind::kSimulated, o);
  };
}

// Counts what one model's clients saw.
struct Tally {
  std::mutex mu;
  std::vector<double> latencies_ms;  // successful requests completed in the window
  int64_t served_samples = 0;
  int64_t failed = 0;
  std::atomic<int64_t> rejected{0};
  std::atomic<int64_t> outstanding{0};
};

// Offers `m.demand_per_s` samples/s in requests of kSamplesPerRequest, evenly spaced, until `end`.
void Client(Scheduler& s, const BenchModel& m, TimePoint window_start, TimePoint end, Tally& t) {
  Clock& clock = SystemClock();
  const Duration gap = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(kSamplesPerRequest / m.demand_per_s));
  std::vector<float> values(16 * kSamplesPerRequest, 0.5f);
  for (TimePoint next = clock.Now(); next < end; next += gap) {
    clock.SleepUntil(next);
    InferRequest r;
    r.model = m.name;
    r.timeout = std::chrono::seconds(1);
    r.inputs.push_back({"x", Tensor::FromFloats({kSamplesPerRequest, 16}, values)});
    const TimePoint sent = clock.Now();
    t.outstanding.fetch_add(1);
    Status st = s.Infer(std::move(r), [&t, sent, window_start, end](Status st, InferResponse) {
      const TimePoint now = SystemClock().Now();
      if (sent >= window_start && now <= end) {
        std::lock_guard<std::mutex> l(t.mu);
        if (st.ok()) {
          t.served_samples += kSamplesPerRequest;
          t.latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - sent).count());
        } else {
          ++t.failed;
        }
      }
      t.outstanding.fetch_sub(1);
    });
    if (!st.ok()) {
      t.outstanding.fetch_sub(1);
      if (sent >= window_start) t.rejected.fetch_add(1);
    }
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100 * v.size()))];
}

struct Row {
  std::string strategy;
  std::string placement;
  double offered = 0, served = 0, p50 = 0, p99 = 0;
  double offered_work = 0, served_work = 0;  // in ResNet-50-equivalent samples/s (samples x cost)
  int64_t rejected = 0, failed = 0;
  std::vector<double> per_model;
};

using Placement = std::function<LoadOptions(int model_index, const BenchModel&)>;

Result<Row> Run(const std::string& name, const Placement& place, const Fleet& fleet,
                const std::string& source_dir, const std::string& table_dir, double warmup_s,
                double measure_s) {
  const std::vector<BenchModel> models = ModelsOf(fleet);
  BW_ASSIGN_OR_RETURN(auto processors, BenchProcessors(source_dir, fleet));
  BW_ASSIGN_OR_RETURN(auto monitor, CreateMonitorFor({}, SystemClock(), processors));
  Scheduler::Options o;
  o.rebalance_period_ms = 0;  // placement alone is compared; no moves during the run
  o.batching.controller.policy = BatchPolicy::kQueueDelay;
  o.batching.max_queue_delay_micros = 2000;
  o.batching.max_queue_size = 256;
  SchedulerHardware hw{std::move(processors), std::move(monitor), {}};
  BW_ASSIGN_OR_RETURN(auto s, Scheduler::Create(o, SystemClock(), std::move(hw),
                                                ScaledSimulatedFactory(table_dir)));
  s->Start();
  Row row;
  row.strategy = name;
  for (int i = 0; i < 4; ++i) {
    BW_RETURN_IF_ERROR(s->LoadModel(BenchConfig(models[i]), place(i, models[i])));
    row.placement += std::string(i ? ", " : "") + models[i].name + "→" +
                     s->Instances(models[i].name)[0].processor;
  }
  const TimePoint start = SystemClock().Now();
  const TimePoint window =
      start + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(warmup_s));
  const TimePoint end =
      window + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(measure_s));
  std::vector<Tally> tallies(4);
  {
    std::vector<std::jthread> clients;
    for (int i = 0; i < 4; ++i) {
      clients.emplace_back([&, i] { Client(*s, models[i], window, end, tallies[i]); });
    }
  }
  s.reset();  // drains: queued requests finish or time out; no callback runs after this
  std::vector<double> all;
  for (int i = 0; i < 4; ++i) {
    const double served = tallies[i].served_samples / measure_s;
    row.offered += models[i].demand_per_s;
    row.offered_work += models[i].demand_per_s * models[i].cost;
    row.per_model.push_back(served);
    row.served += served;
    row.served_work += served * models[i].cost;
    row.rejected += tallies[i].rejected.load();
    row.failed += tallies[i].failed;
    all.insert(all.end(), tallies[i].latencies_ms.begin(), tallies[i].latencies_ms.end());
  }
  row.p50 = Percentile(all, 50);
  row.p99 = Percentile(all, 99);
  return row;
}

void Print(const Fleet& fleet, const std::vector<Row>& rows, double measure_s) {
  std::printf(
      "\nFleet %s. ALL PROCESSORS SIMULATED (replayed tables; see header). %g s measured per "
      "strategy, open loop, %d samples/request, request timeout 1 s. Work = samples x the "
      "model's cost relative to ResNet-50.\n\n",
      fleet.name, measure_s, kSamplesPerRequest);
  std::printf(
      "| strategy | placement | offered samples/s | served samples/s | served %% | "
      "offered work/s | served work/s | resnet50 | resnet18 | mobilenet_v2 | mlp_forecaster | "
      "p50 ms | p99 ms | rejected (queue full) | failed (timeout) |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& r : rows) {
    std::printf(
        "| %s | %s | %.0f | %.0f | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f | "
        "%.1f | %lld | %lld |\n",
        r.strategy.c_str(), r.placement.c_str(), r.offered, r.served, 100 * r.served / r.offered,
        r.offered_work, r.served_work, r.per_model[0], r.per_model[1], r.per_model[2],
        r.per_model[3], r.p50, r.p99, static_cast<long long>(r.rejected),
        static_cast<long long>(r.failed));
  }
  if (rows.size() >= 2 && rows[1].served > 0 && rows[1].served_work > 0) {
    std::printf("\n%s / %s: %.2fx the samples, %.2fx the work\n", rows[0].strategy.c_str(),
                rows[1].strategy.c_str(), rows[0].served / rows[1].served,
                rows[0].served_work / rows[1].served_work);
  }
}

}  // namespace
}  // namespace batchwise

int main(int argc, char** argv) {
  using namespace batchwise;
  CLI::App app{"Placement benchmark: least-workload vs all-on-fastest vs round-robin (simulated)"};
  double warmup_s = 3, measure_s = 12;
  std::string source_dir = ".";
  app.add_option("--warmup-seconds", warmup_s, "load before the measured window");
  app.add_option("--seconds", measure_s, "measured window per strategy");
  app.add_option("--source-dir", source_dir, "repository root (for data/processors)");
  CLI11_PARSE(app, argc, argv);
  const std::string table_dir =
      (std::filesystem::temp_directory_path() / "batchwise_placement_bench").string();
  std::filesystem::create_directories(table_dir);
  for (const Fleet& fleet : kFleets) {
    // Round-robin goes through the processors in discovery order.
    auto processors = BenchProcessors(source_dir, fleet);
    if (!processors.ok()) {
      std::fprintf(stderr, "%s\n", processors.status().ToString().c_str());
      return 1;
    }
    std::vector<std::string> order;
    for (const auto& p : *processors) order.push_back(p.id);
    const std::vector<std::pair<std::string, Placement>> strategies = {
        {"least-workload",
         [](int, const BenchModel& m) {
           LoadOptions o;
           o.expected_rate_per_s = m.demand_per_s * m.cost;  // in reference-model samples/s
           o.memory_bytes = kGiB;
           return o;
         }},
        {"all-on-fastest",
         [](int, const BenchModel&) {
           LoadOptions o;
           o.processor = "sim:a100";
           o.memory_bytes = kGiB;
           return o;
         }},
        {"round-robin", [&order](int i, const BenchModel&) {
           LoadOptions o;
           o.processor = order[i % order.size()];
           o.memory_bytes = kGiB;
           return o;
         }}};
    std::vector<Row> rows;
    for (const auto& [name, place] : strategies) {
      std::fprintf(stderr, "fleet %s: running %s ...\n", fleet.name, name.c_str());
      auto row = Run(name, place, fleet, source_dir, table_dir, warmup_s, measure_s);
      if (!row.ok()) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), row.status().ToString().c_str());
        return 1;
      }
      rows.push_back(std::move(row).value());
    }
    Print(fleet, rows, measure_s);
  }
  return 0;
}
