// engine_bench: raw engine throughput and latency per model x engine x thread count x batch size.
//
// Each cell creates one instance pinned to cores {0..threads-1} with `threads` compute threads,
// runs batches of random inputs back to back for --duration-s (at least --min-iters), and reports
// samples/s and the median and p90 batch latency. Batch sizes grow until a batch takes longer
// than --max-batch-ms. Reference models come from tools/gen_models.py.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "backend/engine.h"
#include "backend/engine_util.h"

namespace batchwise {
namespace {

struct BenchOptions {
  std::string models_dir = std::string(BATCHWISE_SOURCE_DIR) + "/models";
  std::vector<std::string> models = {"resnet50", "resnet18", "mobilenet_v2", "mlp_forecaster"};
  std::vector<std::string> engines = {"onnx", "torchscript"};
  std::vector<int> threads = {1, 2};
  std::vector<int> batches = {1, 2, 4, 8, 16, 32, 64};
  double duration_s = 1.0;      // measuring time per cell
  int min_iters = 3;            // batches per cell at least
  double max_batch_ms = 1500;   // larger batches are skipped once one batch takes longer
  std::string csv_path;
  std::string json_path;
};

struct Cell {
  std::string model, engine;
  int threads = 1, batch = 1, iters = 0;
  double samples_per_s = 0, median_ms = 0, p90_ms = 0;
  size_t memory_bytes = 0;
};

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

Result<std::vector<TensorSpec>> ReadSpecs(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot open " + path + " (run /usr/bin/python3 tools/gen_models.py)");
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains(key)) return InvalidArgument(path + ": bad config");
  std::vector<TensorSpec> specs;
  for (const auto& s : j[key]) {
    BW_ASSIGN_OR_RETURN(DataType dtype, ParseDataType(s.at("datatype").get<std::string>()));
    specs.push_back({s.at("name").get<std::string>(), dtype, s.at("shape").get<Shape>()});
  }
  return specs;
}

std::vector<Tensor> RandomBatch(const std::vector<TensorSpec>& specs, int batch) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist;
  std::vector<Tensor> out;
  for (const auto& s : specs) {
    Tensor t = Tensor::Allocate(s.dtype, BatchShape(s, batch));
    for (float& v : t.mutable_as<float>()) v = dist(rng);
    out.push_back(std::move(t));
  }
  return out;
}

Result<Cell> Measure(Engine& engine, const std::vector<TensorSpec>& specs, int batch,
                     const BenchOptions& o) {
  std::vector<Tensor> in = RandomBatch(specs, batch);
  BW_RETURN_IF_ERROR(engine.Run(in).status());  // warm-up: the net adapts to the batch size
  std::vector<double> ms;
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  while (static_cast<int>(ms.size()) < o.min_iters || elapsed() < o.duration_s) {
    auto t0 = std::chrono::steady_clock::now();
    BW_RETURN_IF_ERROR(engine.Run(in).status());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  Cell c;
  c.batch = batch;
  c.iters = static_cast<int>(ms.size());
  c.samples_per_s = batch * ms.size() / elapsed();
  c.median_ms = Percentile(ms, 0.5);
  c.p90_ms = Percentile(ms, 0.9);
  c.memory_bytes = engine.memory_footprint_bytes();
  return c;
}

void PrintRow(const Cell& c) {
  std::printf("%-15s %-12s %7d %6d %11.1f %10.2f %10.2f %6d %9.1f\n", c.model.c_str(),
              c.engine.c_str(), c.threads, c.batch, c.samples_per_s, c.median_ms, c.p90_ms,
              c.iters, c.memory_bytes / 1048576.0);
  std::fflush(stdout);
}

// All batch sizes of one model x engine x thread count.
Status BenchInstance(const std::string& model, EngineKind kind, int threads,
                     const BenchOptions& o, std::vector<Cell>* cells) {
  std::string dir = o.models_dir + "/" + model;
  EngineOptions eo;
  eo.model_path = dir + (kind == EngineKind::kOnnx ? "/model.onnx" : "/model.pt");
  BW_ASSIGN_OR_RETURN(eo.inputs, ReadSpecs(dir + "/config.json", "inputs"));
  BW_ASSIGN_OR_RETURN(eo.outputs, ReadSpecs(dir + "/config.json", "outputs"));
  for (int c = 0; c < threads; ++c) eo.target.cpu_cores.push_back(c);
  eo.target.num_threads = threads;
  BW_ASSIGN_OR_RETURN(auto engine, CreateEngine(kind, eo));
  for (int batch : o.batches) {
    BW_ASSIGN_OR_RETURN(Cell c, Measure(*engine, eo.inputs, batch, o));
    c.model = model;
    c.engine = std::string(EngineKindName(kind));
    c.threads = threads;
    PrintRow(c);
    cells->push_back(c);
    if (c.median_ms > o.max_batch_ms) break;
  }
  return Status::Ok();
}

void WriteCsv(const std::string& path, const std::vector<Cell>& cells) {
  std::ofstream out(path);
  out << "model,engine,threads,batch_size,samples_per_s,latency_p50_ms,latency_p90_ms,iters,memory_bytes\n";
  for (const auto& c : cells) {
    out << c.model << ',' << c.engine << ',' << c.threads << ',' << c.batch << ',' << c.samples_per_s
        << ',' << c.median_ms << ',' << c.p90_ms << ',' << c.iters << ',' << c.memory_bytes << '\n';
  }
}

void WriteJson(const std::string& path, const std::vector<Cell>& cells) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : cells) {
    j.push_back({{"model", c.model}, {"engine", c.engine}, {"threads", c.threads},
                 {"batch_size", c.batch}, {"samples_per_s", c.samples_per_s},
                 {"latency_p50_ms", c.median_ms}, {"latency_p90_ms", c.p90_ms},
                 {"iters", c.iters}, {"memory_bytes", c.memory_bytes}});
  }
  std::ofstream(path) << j.dump(2) << "\n";
}

std::string FirstLineWith(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return line;
  }
  return "";
}

// What the numbers depend on besides the code: the CPU, the cores, the OpenMP wait policy
// (libtorch's team threads spin by default, which collapses under co-running load) and the load.
void PrintEnvironment(int allowed) {
  std::string cpu = FirstLineWith("/proc/cpuinfo", "model name");
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  std::ifstream load("/proc/loadavg");
  std::string loadavg;
  std::getline(load, loadavg);
  std::printf("# %s; %d cpus allowed; OMP_WAIT_POLICY=%s; loadavg %s\n",
              cpu.substr(cpu.find(':') + 2).c_str(), allowed, wait ? wait : "(unset)",
              loadavg.c_str());
}

int RunAll(const BenchOptions& o) {
  int allowed = static_cast<int>(AllowedCpus().size());
  PrintEnvironment(allowed);
  std::printf("%-15s %-12s %7s %6s %11s %10s %10s %6s %9s\n", "model", "engine", "threads",
              "batch", "samples/s", "p50 ms", "p90 ms", "iters", "mem MiB");
  std::vector<Cell> cells;
  int failures = 0;
  for (const auto& model : o.models) {
    for (const auto& name : o.engines) {
      auto kind = ParseEngineKind(name);
      for (int threads : o.threads) {
        Status s = !kind.ok() ? kind.status()
                   : threads > allowed ? InvalidArgument("more threads than cpus")
                                       : BenchInstance(model, *kind, threads, o, &cells);
        if (!s.ok()) std::fprintf(stderr, "%s/%s/%d: %s\n", model.c_str(), name.c_str(), threads, s.ToString().c_str());
        failures += !s.ok();
      }
    }
  }
  if (!o.csv_path.empty()) WriteCsv(o.csv_path, cells);
  if (!o.json_path.empty()) WriteJson(o.json_path, cells);
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace batchwise

int main(int argc, char** argv) {
  batchwise::BenchOptions o;
  CLI::App app{"Raw engine benchmark: samples/s and batch latency per model, engine, threads, batch"};
  app.add_option("--models-dir", o.models_dir, "model repository (tools/gen_models.py)")->capture_default_str();
  app.add_option("--models", o.models, "models")->delimiter(',')->capture_default_str();
  app.add_option("--engines", o.engines, "onnx, torchscript")->delimiter(',')->capture_default_str();
  app.add_option("--threads", o.threads, "thread counts (instance pinned to cores 0..n-1)")->delimiter(',')->capture_default_str();
  app.add_option("--batches", o.batches, "batch sizes")->delimiter(',')->capture_default_str();
  app.add_option("--duration-s", o.duration_s, "measuring time per cell")->capture_default_str();
  app.add_option("--min-iters", o.min_iters, "batches per cell at least")->capture_default_str();
  app.add_option("--max-batch-ms", o.max_batch_ms, "stop growing the batch once one takes longer")->capture_default_str();
  app.add_option("--csv", o.csv_path, "write the cells as CSV");
  app.add_option("--json", o.json_path, "write the cells as JSON");
  CLI11_PARSE(app, argc, argv);
  return batchwise::RunAll(o);
}
