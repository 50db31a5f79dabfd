// Placement against the brute-force optimum (issue 15): is least-workload placement, made one
// model at a time, right for the whole fleet?
//
// For each of --fleets random fleets (seeded) the bench draws:
//   processors  2-5, with repeats, from: one CPU core and a 2-core CPU partition (this machine's
//               measured ResNet-50 TorchScript figures at 1 thread, docs/engines.md, as
//               bench/placement_bench.cc replays them; the partition runs one instance per core,
//               so its 2-instance row is twice the core's figure: an assumption, not a
//               measurement), A100, A40, V100, T4 (published tables,
//               data/tables/resnet50_gpu_published.csv) and H200 (our measurement,
//               ../shared/tables/resnet50_h200_measured.csv, fp32 TorchScript, 1/2/4 instances).
//               ALL ARE SIMULATED: nothing runs, only the tables are read.
//   models      2-5, each one of resnet50, resnet18, mobilenet_v2, mlp_forecaster with its cost
//               relative to ResNet-50 measured on this machine's CPU (as placement_bench), in a
//               random order (the order they are loaded in), with demands in samples/s whose work
//               (samples x cost) adds up to a random 0.3-1.5x of the fleet's capacity.
//
// SCORING MODEL (one, for every strategy and the optimum). Each model runs as one instance on one
// processor (what Scheduler::LoadModel creates) or is not placed. A processor p running n
// instances serves C_p(n) ResNet-50-equivalent samples/s: the best throughput of its table's
// n-instance row (the largest row below n when there is none). Its models share that capacity
// work-conservingly, so it serves min(C_p(n), W_p) of their demanded work W_p = sum of
// demand x cost; goodput = sum over processors of that, in work/s. (Any work-conserving split
// between the models gives the same sum; batching, latency targets and memory are not modelled.)
// An assignment is feasible when no processor holds more instances than its profiled maximum
// (PerfTable::MaxUsefulInstances via PerformanceOf, as the scheduler counts it).
//
// OPTIMUM: every feasible assignment (each model: unplaced or on any processor with a free
// instance slot), scored as above, the best kept.
//
// GREEDY: the real Placer (placement/placer.h), fed ProcessorViews built by the same functions the
// Scheduler uses (PerformanceOf, MakeProcessorView) with the same bookings it makes after each
// load (one more instance, reserved utilisation += expected rate / P, the footprint reserved in
// the processor's SimulatedLoad), expected rate = demand x cost. Driving the Placer directly keeps
// 50+ fleets x several strategies to a second; --verify-scheduler N drives Scheduler::LoadModel
// itself (simulated engines, no traffic) on the first N fleets and checks it places every model
// exactly where this driver does with the look-ahead (LoadModel passes the expected rate):
// in arrival order as "look-ahead, arrival order", heaviest first as the fleet plan.
//
// Strategies, all the same Placer:
//   arrival order   models placed one at a time in the order drawn, each scored as its processor is
//                   now (what Scheduler::LoadModel does today, in whatever order it is called);
//   heaviest first  the same, sorted by expected rate (as placement_bench and the heterogeneous
//                   scenario load);
//   look-ahead, arrival order  in the order drawn, each processor scored as it would be after
//                   taking the model (ModelRequirements::expected_rate_per_s set);
//   fleet plan      Placer::PlanPlacement: heaviest first with the look-ahead.
// Results go in docs/placement.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "device/simulated.h"
#include "placement/placer.h"
#include "placement/processor_view.h"
#include "serving/engine_factory.h"
#include "serving/scheduler.h"

namespace batchwise {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

// --- Processors ---

// ResNet-50, TorchScript, 1 thread per core of this machine (docs/engines.md engine_bench), with
// one instance per core: the `cores`-instance row is `cores` times the single-core figures.
PerfTable CpuTable(int cores) {
  PerfTable t;
  t.processor_id = "cpu-" + std::to_string(cores) + "core";
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
  for (int n = 1; n <= cores; ++n) {
    for (const auto& r : rows) {
      t.cells.push_back({.batch_size = static_cast<int>(r[0]),
                         .instances = n,
                         .throughput = r[1] * n,
                         .latency_avg_ms = r[2],
                         .latency_p50_ms = r[2],
                         .latency_p90_ms = r[2],
                         .latency_p99_ms = r[2]});
    }
  }
  return t;
}

// The H200 rows measured with fp32 TorchScript, one CUDA stream per instance (1, 2, 4 instances).
Result<PerfTable> H200Table(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot open " + path);
  PerfTable t;
  t.processor_id = "h200";
  t.processor_kind = "gpu";
  t.simulated = true;
  t.source = path + " (fp32_ts rows)";
  t.model_name = "resnet50";
  t.engine = "simulated";
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream s(line);
    for (std::string x; std::getline(s, x, ',');) f.push_back(x);
    if (f.size() < 7 || f[0] != "h200" || f[1] != "fp32_ts") continue;
    const double latency = std::stod(f[5]);
    t.cells.push_back({.batch_size = std::stoi(f[3]),
                       .instances = std::stoi(f[2]),
                       .throughput = std::stod(f[4]),
                       .latency_avg_ms = latency,
                       .latency_p50_ms = latency,
                       .latency_p90_ms = latency,
                       .latency_p99_ms = std::stod(f[6])});
  }
  if (t.cells.empty()) return NotFound(path + " has no h200 fp32_ts rows");
  return t;
}

struct ProcessorType {
  std::string name;  // "a100"
  ProcessorKind kind;
  uint64_t memory_bytes;
  std::shared_ptr<const PerfTable> table;
};

Result<std::vector<ProcessorType>> ProcessorTypes(const std::string& source_dir,
                                                  const std::string& h200_csv) {
  std::vector<ProcessorType> out = {
      {"cpu1", ProcessorKind::kCpu, 16 * kGiB, std::make_shared<PerfTable>(CpuTable(1))},
      {"cpu2", ProcessorKind::kCpu, 16 * kGiB, std::make_shared<PerfTable>(CpuTable(2))}};
  const std::string csv = source_dir + "/data/tables/resnet50_gpu_published.csv";
  const std::pair<const char*, const char*> gpus[] = {
      {"a100", "a100-80gb"}, {"a40", "a40"}, {"v100", "v100-32gb"}, {"t4", "t4"}};
  const uint64_t memory_gib[] = {80, 48, 32, 16};
  for (int i = 0; i < 4; ++i) {
    BW_ASSIGN_OR_RETURN(PerfTable t, PerfTable::FromPublishedCsv(csv, gpus[i].second));
    out.push_back({gpus[i].first, ProcessorKind::kGpu, memory_gib[i] * kGiB,
                   std::make_shared<PerfTable>(std::move(t))});
  }
  auto h200 = H200Table(h200_csv);
  if (h200.ok()) {
    out.push_back({"h200", ProcessorKind::kGpu, 141 * kGiB,
                   std::make_shared<PerfTable>(std::move(h200).value())});
  } else {
    std::fprintf(stderr, "no H200 in the pool: %s\n", h200.status().ToString().c_str());
  }
  return out;
}

// A fresh simulated processor (its own SimulatedLoad, nothing reserved).
Processor MakeProcessor(const ProcessorType& t, const std::string& id) {
  Processor p;
  p.id = id;
  p.kind = t.kind;
  p.simulated = true;
  p.memory_bytes = t.memory_bytes;
  p.model = t.name + " (simulated)";
  p.table = t.table;
  p.load = std::make_shared<SimulatedLoad>(p.memory_bytes);
  p.signature = SimulatedSignature(*p.table, p.memory_bytes);
  return p;
}

// --- Fleets ---

struct ModelType {
  const char* name;
  double cost;  // latency relative to resnet50 on the same processor
};
// samples/s at batch 8, 1 thread, TorchScript, this machine (docs/engines.md), as placement_bench.
constexpr ModelType kModelTypes[] = {{"resnet50", 1.0},
                                     {"resnet18", 11.4 / 30.4},
                                     {"mobilenet_v2", 11.4 / 92.0},
                                     {"mlp_forecaster", 11.4 / 75835.0}};

struct FleetModel {
  std::string name;
  double cost = 1;
  double demand_per_s = 0;                             // samples/s
  double work() const { return demand_per_s * cost; }  // ResNet-50-equivalent samples/s
};

struct FleetProcessor {
  const ProcessorType* type;
  std::string id;
  int max_instances = 1;
  std::vector<double> capacity;  // capacity[n] = C_p(n), n = 0..max_instances
};

struct Fleet {
  int index = 0;
  double load = 0;  // demanded work / the fleet's capacity at its instance limits
  std::vector<FleetProcessor> processors;
  std::vector<FleetModel> models;  // in arrival order
};

// Uniform in [0,1) from the generator's bits (the same on every standard library).
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
int UniformInt(std::mt19937_64& rng, int lo, int hi) {
  return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

FleetProcessor Describe(const ProcessorType& t, std::string id) {
  FleetProcessor fp{&t, std::move(id)};
  fp.max_instances = PerformanceOf(MakeProcessor(t, fp.id), nullptr, {}).max_instances;
  for (int n = 0; n <= fp.max_instances; ++n) {
    fp.capacity.push_back(n == 0 ? 0 : t.table->Capacity(n));
  }
  return fp;
}

Fleet DrawFleet(int index, std::mt19937_64& rng, const std::vector<ProcessorType>& types) {
  Fleet f;
  f.index = index;
  std::map<std::string, int> seen;
  const int processors = UniformInt(rng, 2, 5);
  double capacity = 0;
  for (int i = 0; i < processors; ++i) {
    const ProcessorType& t = types[UniformInt(rng, 0, static_cast<int>(types.size()) - 1)];
    const int k = seen[t.name]++;
    f.processors.push_back(Describe(t, "sim:" + t.name + (k ? "#" + std::to_string(k) : "")));
    capacity += f.processors.back().capacity.back();
  }
  const int models = UniformInt(rng, 2, 5);
  std::vector<double> share;
  for (int i = 0; i < models; ++i) {
    const ModelType& m = kModelTypes[UniformInt(rng, 0, 3)];
    f.models.push_back({std::string(m.name) + "." + std::to_string(i), m.cost, 0});
    share.push_back(0.05 + Uniform(rng));
  }
  f.load = 0.3 + 1.2 * Uniform(rng);
  const double total = std::accumulate(share.begin(), share.end(), 0.0);
  for (int i = 0; i < models; ++i) {
    f.models[i].demand_per_s = f.load * capacity * share[i] / total / f.models[i].cost;
  }
  return f;
}

// --- Scoring ---

// assignment[i] = processor index of model i, or -1 when it is not placed.
using Assignment = std::vector<int>;

double Goodput(const Fleet& f, const Assignment& a) {
  std::vector<int> n(f.processors.size(), 0);
  std::vector<double> work(f.processors.size(), 0);
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] < 0) continue;
    ++n[a[i]];
    work[a[i]] += f.models[i].work();
  }
  double goodput = 0;
  for (size_t p = 0; p < n.size(); ++p) {
    const auto& cap = f.processors[p].capacity;
    goodput += std::min(work[p], cap[std::min<size_t>(n[p], cap.size() - 1)]);
  }
  return goodput;
}

// Every feasible assignment; the best.
std::pair<double, Assignment> Optimum(const Fleet& f) {
  Assignment a(f.models.size(), -1), best = a;
  std::vector<int> used(f.processors.size(), 0);
  double best_goodput = -1;
  std::function<void(size_t)> visit = [&](size_t i) {
    if (i == a.size()) {
      const double g = Goodput(f, a);
      if (g > best_goodput + 1e-9) best_goodput = g, best = a;
      return;
    }
    a[i] = -1;
    visit(i + 1);
    for (size_t p = 0; p < used.size(); ++p) {
      if (used[p] >= f.processors[p].max_instances) continue;
      ++used[p];
      a[i] = static_cast<int>(p);
      visit(i + 1);
      --used[p];
    }
    a[i] = -1;
  };
  visit(0);
  return {best_goodput, best};
}

// --- Greedy: the Placer with the scheduler's bookings ---

std::vector<Processor> Materialise(const Fleet& f) {
  std::vector<Processor> out;
  for (const auto& fp : f.processors) out.push_back(MakeProcessor(*fp.type, fp.id));
  return out;
}

// `look_ahead`: the requirements carry the model's expected rate, so Place() scores each
// processor as it would be after taking the model; without, as the Scheduler asks today.
ModelRequirements Requirements(const FleetModel& m, bool look_ahead) {
  ModelRequirements r;
  r.name = m.name;
  r.memory_bytes = kGiB;
  r.engines = {"simulated"};
  if (look_ahead) r.expected_rate_per_s = m.work();
  return r;
}

// The views Scheduler::ViewsLocked builds: no monitor reading (nothing has run), P and the
// instance limit from the table, the instances and booked utilisation placed so far.
std::vector<ProcessorView> Views(const std::vector<Processor>& ps,
                                 const std::map<std::string, Occupancy>& occupancy) {
  std::vector<ProcessorView> views;
  for (const auto& p : ps) {
    auto it = occupancy.find(p.id);
    views.push_back(MakeProcessorView(p, nullptr, PerformanceOf(p, nullptr, {}),
                                      it == occupancy.end() ? Occupancy{} : it->second));
  }
  return views;
}

// Scheduler::StartInstanceLocked's bookings for `m` on `id`.
void Book(std::vector<Processor>& ps, std::map<std::string, Occupancy>& occupancy,
          const std::string& id, double expected_rate) {
  for (auto& p : ps) {
    if (p.id != id) continue;
    Occupancy& occ = occupancy[id];
    ++occ.instances;
    const double perf = PerformanceOf(p, nullptr, {}).samples_per_s;
    if (perf > 0) occ.reserved_utilization += expected_rate / perf;
    (void)p.load->Reserve(kGiB);
  }
}

int IndexOf(const Fleet& f, const std::string& id) {
  for (size_t p = 0; p < f.processors.size(); ++p) {
    if (f.processors[p].id == id) return static_cast<int>(p);
  }
  return -1;
}

// One Place() per model in `order`, booking each choice before the next.
Assignment PlaceOneByOne(const Fleet& f, const std::vector<size_t>& order, bool look_ahead) {
  FakeClock clock;
  auto placer = std::move(Placer::Create({}, &clock).value());
  std::vector<Processor> ps = Materialise(f);
  std::map<std::string, Occupancy> occupancy;
  Assignment a(f.models.size(), -1);
  for (size_t i : order) {
    PlacementDecision d =
        placer->Place(Requirements(f.models[i], look_ahead), Views(ps, occupancy));
    if (d.chosen.empty()) continue;
    a[i] = IndexOf(f, d.chosen);
    Book(ps, occupancy, d.chosen, f.models[i].work());
  }
  return a;
}

std::vector<size_t> ArrivalOrder(const Fleet& f) {
  std::vector<size_t> order(f.models.size());
  std::iota(order.begin(), order.end(), 0);
  return order;
}

std::vector<size_t> HeaviestFirst(const Fleet& f) {
  std::vector<size_t> order = ArrivalOrder(f);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return f.models[a].work() > f.models[b].work(); });
  return order;
}

// PlanPlacement over the same views: the fleet-level rule.
Assignment FleetPlan(const Fleet& f) {
  FakeClock clock;
  auto placer = std::move(Placer::Create({}, &clock).value());
  std::vector<Processor> ps = Materialise(f);
  std::vector<ModelRequirements> models;
  for (const auto& m : f.models) models.push_back(Requirements(m, true));
  PlacementPlan plan = placer->PlanPlacement(models, Views(ps, {}));
  Assignment a(f.models.size(), -1);
  for (size_t i = 0; i < f.models.size(); ++i) a[i] = IndexOf(f, plan.chosen[i]);
  return a;
}

// --- Verification against the Scheduler ---

// Loads the fleet's models into a real Scheduler (simulated engines, no warm-up, no traffic) in
// `order` and returns where it put them.
Result<Assignment> SchedulerPlaces(const Fleet& f, const std::vector<size_t>& order,
                                   const std::string& table_dir) {
  Scheduler::Options o;
  o.rebalance_period_ms = 0;
  o.warmup_batches = 0;
  SchedulerHardware hw{Materialise(f), nullptr, {}};
  BW_ASSIGN_OR_RETURN(
      auto s, Scheduler::Create(o, SystemClock(), std::move(hw), DefaultEngineFactory(table_dir)));
  Assignment a(f.models.size(), -1);
  for (size_t i : order) {
    ModelConfig c;
    c.name = f.models[i].name;
    c.max_batch_size = 32;
    c.inputs = {{"x", DataType::kFp32, {-1, 16}}};
    c.outputs = {{"y", DataType::kFp32, {-1, 10}}};
    LoadOptions lo;
    lo.expected_rate_per_s = f.models[i].work();
    lo.memory_bytes = kGiB;
    Status st = s->LoadModel(c, lo);
    if (st.ok()) a[i] = IndexOf(f, s->Instances(c.name)[0].processor);
  }
  return a;
}

// --- Report ---

std::string Describe(const Fleet& f, const Assignment& a) {
  std::ostringstream s;
  s.precision(4);
  s << "fleet " << f.index << " (load " << f.load << "): ";
  for (size_t p = 0; p < f.processors.size(); ++p) {
    const auto& fp = f.processors[p];
    s << (p ? ", " : "") << fp.id << "[C=" << fp.capacity[1];
    if (fp.max_instances > 1) s << ".." << fp.capacity.back() << " x" << fp.max_instances;
    s << "]";
  }
  s << "; ";
  for (size_t i = 0; i < f.models.size(); ++i) {
    s << (i ? ", " : "") << f.models[i].name << " w=" << f.models[i].work() << "->"
      << (a[i] < 0 ? std::string("none") : f.processors[a[i]].id);
  }
  return s.str();
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double x = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(x));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (x - lo) * (v[hi] - v[lo]);
}

struct Strategy {
  std::string name;
  std::function<Assignment(const Fleet&)> place;
  std::vector<double> ratios;
  std::vector<Assignment> assignments;
};

void PrintDistribution(const std::vector<Strategy>& strategies) {
  std::printf(
      "\n| strategy | fleets | min | p10 | median | mean | max | fleets >= 0.95 | fleets >= 0.85 "
      "|\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& s : strategies) {
    const auto& r = s.ratios;
    const auto at_least = [&](double x) {
      return std::count_if(r.begin(), r.end(), [x](double v) { return v >= x - 1e-12; });
    };
    std::printf("| %s | %zu | %.3f | %.3f | %.3f | %.3f | %.3f | %td | %td |\n", s.name.c_str(),
                r.size(), Quantile(r, 0), Quantile(r, 0.1), Quantile(r, 0.5),
                std::accumulate(r.begin(), r.end(), 0.0) / r.size(), Quantile(r, 1), at_least(0.95),
                at_least(0.85));
  }
}

void PrintWorst(const Strategy& s, const std::vector<Fleet>& fleets,
                const std::vector<Assignment>& optima, int count) {
  std::vector<size_t> idx(fleets.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(),
                   [&](size_t a, size_t b) { return s.ratios[a] < s.ratios[b]; });
  std::printf("\nWorst fleets for %s:\n", s.name.c_str());
  for (int k = 0; k < count && k < static_cast<int>(idx.size()); ++k) {
    const size_t i = idx[k];
    std::printf("  ratio %.3f  %s\n    optimum: %s\n", s.ratios[i],
                Describe(fleets[i], s.assignments[i]).c_str(),
                Describe(fleets[i], optima[i]).c_str());
  }
}

}  // namespace
}  // namespace batchwise

int main(int argc, char** argv) {
  using namespace batchwise;
  CLI::App app{"Least-workload placement against the brute-force optimum (simulated fleets)"};
  int fleet_count = 200, worst = 5, verify = 0;
  uint64_t seed = 15;
  std::string source_dir = ".", h200_csv = "../shared/tables/resnet50_h200_measured.csv";
  app.add_option("--fleets", fleet_count, "random fleets drawn")->check(CLI::Range(1, 100000));
  app.add_option("--seed", seed, "random seed");
  app.add_option("--worst", worst, "worst fleets printed per strategy");
  app.add_option("--verify-scheduler", verify,
                 "check the first N fleets' greedy placements against Scheduler::LoadModel");
  app.add_option("--source-dir", source_dir, "repository root (for data/tables)");
  app.add_option("--h200-csv", h200_csv, "H200 table; left out of the pool when missing");
  CLI11_PARSE(app, argc, argv);
  auto types = ProcessorTypes(source_dir, h200_csv);
  if (!types.ok()) {
    std::fprintf(stderr, "%s\n", types.status().ToString().c_str());
    return 1;
  }
  std::mt19937_64 rng(seed);
  std::vector<Fleet> fleets;
  for (int i = 0; i < fleet_count; ++i) fleets.push_back(DrawFleet(i, rng, *types));

  std::vector<Strategy> strategies = {
      {"arrival order", [](const Fleet& f) { return PlaceOneByOne(f, ArrivalOrder(f), false); }},
      {"heaviest first", [](const Fleet& f) { return PlaceOneByOne(f, HeaviestFirst(f), false); }},
      {"look-ahead, arrival order",
       [](const Fleet& f) { return PlaceOneByOne(f, ArrivalOrder(f), true); }},
      {"fleet plan", FleetPlan}};
  std::vector<Assignment> optima;
  for (const Fleet& f : fleets) {
    auto [best, assignment] = Optimum(f);
    optima.push_back(assignment);
    for (auto& s : strategies) {
      s.assignments.push_back(s.place(f));
      s.ratios.push_back(Goodput(f, s.assignments.back()) / best);
    }
  }

  std::printf("ALL PROCESSORS SIMULATED (tables only, nothing runs). %d fleets, seed %llu; pool:",
              fleet_count, static_cast<unsigned long long>(seed));
  for (const auto& t : *types) {
    const FleetProcessor fp = Describe(t, "x");
    std::printf(" %s (C=%.1f, max %d instance(s), C_max=%.1f)", t.name.c_str(), fp.capacity[1],
                fp.max_instances, fp.capacity.back());
  }
  std::printf(
      ".\nRatio = goodput of the strategy's placement / goodput of the best placement, goodput = "
      "sum over processors of min(C_p(n_p), demanded work there), in ResNet-50-equivalent "
      "samples/s.\n");
  PrintDistribution(strategies);
  for (const auto& s : strategies) PrintWorst(s, fleets, optima, worst);

  if (verify > 0) {
    const std::string table_dir =
        (std::filesystem::temp_directory_path() / "batchwise_placement_optimum").string();
    std::filesystem::create_directories(table_dir);
    int mismatches = 0;
    for (int i = 0; i < verify && i < fleet_count; ++i) {
      for (int s = 0; s < 2; ++s) {
        const Fleet& f = fleets[i];
        // LoadModel passes the expected rate, so it looks ahead: in arrival order it must match
        // "look-ahead, arrival order", heaviest first the fleet plan.
        auto a = SchedulerPlaces(f, s == 0 ? ArrivalOrder(f) : HeaviestFirst(f), table_dir);
        const Strategy& same = strategies[s == 0 ? 2 : 3];
        if (!a.ok() || *a != same.assignments[i]) {
          ++mismatches;
          std::printf("MISMATCH fleet %d (%s): %s\n", i, same.name.c_str(),
                      a.ok() ? Describe(f, *a).c_str() : a.status().ToString().c_str());
        }
      }
    }
    std::printf("\nScheduler::LoadModel check: %d fleets x 2 orders, %d mismatch(es).\n",
                std::min(verify, fleet_count), mismatches);
    if (mismatches > 0) return 1;
  }
  return 0;
}
