// `batchwise profile`: measures load-performance tables (step S1, docs/design.md §1) for models on
// processors, stores them, prints them and plots them.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "backend/engine.h"
#include "cli/commands.h"
#include "device/discovery.h"
#include "device/format.h"
#include "device/monitor.h"
#include "profile/profiler.h"
#include "profile/reference.h"
#include "profile/report.h"
#include "profile/store.h"
#include "repository/model_config.h"

namespace batchwise::cli {
namespace {

struct ProfileArgs {
  std::string repository = "models";
  std::vector<std::string> models = {"resnet50"};
  std::string processors = "cpu:*";
  std::string simulated;
  std::vector<std::string> engines;  // empty: every engine the model has that runs on a CPU
  std::vector<int> batch_sizes = {1, 2, 4, 8, 16, 32, 64};
  std::vector<int> instances = {1, 2};
  int64_t warmup_ms = 500;
  int64_t window_ms = 1000;
  double stability_percent = 10;
  double max_cell_s = 10;
  std::string out = DefaultProfileDir();
  bool force = false;
  bool list = false;
  bool no_plot = false;
};

class ProgressBar {
 public:
  explicit ProgressBar(std::string what) : what_(std::move(what)), tty_(isatty(2)) {}
  void Update(const ProfileProgress& p) {
    constexpr int kWidth = 24;
    int filled = p.cells ? kWidth * (p.cell - 1) / p.cells : 0;
    std::string bar(filled, '#');
    bar.resize(kWidth, '-');
    std::fprintf(stderr, "%s[%s] %2d/%d %s batch %d x%d%s", tty_ ? "\r" : "", bar.c_str(), p.cell,
                 p.cells, what_.c_str(), p.batch_size, p.instances, tty_ ? "   " : "\n");
    std::fflush(stderr);
  }
  void Done() {
    if (tty_) std::fprintf(stderr, "\n");
  }

 private:
  std::string what_;
  bool tty_;
};

std::vector<int> BatchSizesFor(const ProfileArgs& a, const ModelConfig& m) {
  std::vector<int> out;
  for (int b : a.batch_sizes) {
    if (b <= m.max_batch_size) out.push_back(b);
  }
  if (a.batch_sizes == ProfileArgs{}.batch_sizes &&
      std::find(out.begin(), out.end(), m.max_batch_size) == out.end()) {
    out.push_back(m.max_batch_size);  // the default sweep ends at the model's maximum
  }
  return out;
}

bool Wanted(const ProfileArgs& a, EngineKind e) {
  if (e == EngineKind::kSimulated) return false;
  return a.engines.empty() ||
         std::find(a.engines.begin(), a.engines.end(), EngineKindName(e)) != a.engines.end();
}

ProfileOptions SweepOptions(const ProfileArgs& a, const ModelConfig& m) {
  ProfileOptions o;
  o.batch_sizes = BatchSizesFor(a, m);
  o.instance_counts = a.instances;
  o.warmup = std::chrono::milliseconds(a.warmup_ms);
  o.window = std::chrono::milliseconds(a.window_ms);
  o.stability_percent = a.stability_percent;
  o.max_cell_duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(a.max_cell_s));
  return o;
}

// The stored table if it still matches, else a fresh measurement (then stored).
Result<PerfTable> ProfileOne(const ProfileArgs& a, const ModelConfig& m, const ModelEngineFile& file,
                             const Processor& p, HardwareMonitor& monitor) {
  ProfileStore store(a.out);
  std::string engine(EngineKindName(file.engine));
  BW_ASSIGN_OR_RETURN(std::string hash, HashFile(file.path));
  if (!a.force) {
    if (auto t = store.Find(p.id, p.signature, m.name, hash, engine)) {
      spdlog::info("{} on {} with {}: reusing {}", m.name, p.id, engine,
                   store.PathFor(p.id, m.name, engine));
      return std::move(*t);
    }
  }
  PerfTable t = NewTable(m, file, hash, p);
  ProgressBar bar(fmt::format("{} {} {}", m.name, p.id, engine));
  Profiler profiler(&SystemClock(), SweepOptions(a, m));
  auto probe = [&]() -> std::optional<double> {
    auto s = monitor.State(p.id);
    if (!s.ok() || !s->utilization_available) return std::nullopt;
    return s->utilization;
  };
  Status st = profiler.Run(ProfileEngineFactory(m, file, p), probe,
                           [&](const ProfileProgress& pr) { bar.Update(pr); }, t);
  bar.Done();
  BW_RETURN_IF_ERROR(st.WithContext(fmt::format("profiling {} on {} with {}", m.name, p.id, engine)));
  BW_ASSIGN_OR_RETURN(std::string path, store.Save(t));
  spdlog::info("stored {}", path);
  return t;
}

void PrintBestEngines(const std::vector<PerfTable>& tables) {
  std::map<std::string, const PerfTable*> best;
  for (const auto& t : tables) {
    auto& b = best[t.processor_id];
    if (!b || t.ProcessingPerformance() > b->ProcessingPerformance()) b = &t;
  }
  for (const auto& [id, t] : best) {
    std::printf("best engine on %s: %s (%.1f samples/s%s)\n", id.c_str(), t->engine.c_str(),
                t->ProcessingPerformance(), t->simulated ? ", simulated" : "");
  }
}

Status ProfileModel(const ProfileArgs& a, const std::string& name,
                    const std::vector<Processor>& processors, HardwareMonitor& monitor) {
  BW_ASSIGN_OR_RETURN(ModelConfig m,
                      LoadModelConfig((std::filesystem::path(a.repository) / name).string()));
  std::vector<PerfTable> tables;
  for (const auto& p : processors) {
    if (p.simulated) {
      if (p.table) tables.push_back(*p.table);  // replayed, not measured: labelled simulated
      continue;
    }
    if (p.kind != ProcessorKind::kCpu) {
      spdlog::warn("{}: profiling GPUs needs a CUDA build; skipped", p.id);
      continue;
    }
    for (const auto& file : m.engines) {
      if (!Wanted(a, file.engine)) continue;
      BW_ASSIGN_OR_RETURN(PerfTable t, ProfileOne(a, m, file, p, monitor));
      tables.push_back(std::move(t));
    }
  }
  std::printf("\n%s\n", FormatPerfTables(tables).c_str());
  PrintBestEngines(tables);
  if (a.no_plot || tables.empty()) return Status::Ok();
  std::string png = (std::filesystem::path(a.out) / (m.name + ".png")).string();
  Status plotted = WritePerfPlot(tables, png, "load-performance: " + m.name);
  if (plotted.ok()) std::printf("plot: %s\n", png.c_str());
  else spdlog::warn("no plot: {}", plotted.ToString());
  return Status::Ok();
}

int RunProfile(const ProfileArgs& a) {
  DiscoveryOptions d;
  d.cpu_spec = a.processors;
  d.simulated_path = a.simulated;
  auto found = DiscoverProcessors(d);
  if (!found.ok()) {
    spdlog::error("{}", found.status().ToString());
    return 1;
  }
  auto monitor = CreateMonitorFor({}, SystemClock(), found->processors, {}, found->nvml);
  if (!monitor.ok()) {
    spdlog::error("{}", monitor.status().ToString());
    return 1;
  }
  (*monitor)->Start();
  if (a.list) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // two samples of live state
    std::printf("%s", FormatProcessorTable(found->processors, (*monitor)->Snapshot()).c_str());
    if (!found->gpu_note.empty()) std::printf("GPUs: %s\n", found->gpu_note.c_str());
    return 0;
  }
  for (const auto& name : a.models) {
    Status s = ProfileModel(a, name, found->processors, **monitor);
    if (!s.ok()) {
      spdlog::error("{}", s.ToString());
      return 1;
    }
  }
  return 0;
}

}  // namespace

Command AddProfileCommand(CLI::App& app) {
  auto args = std::make_shared<ProfileArgs>();
  auto* cmd = app.add_subcommand("profile", "Measure load-performance tables (latency, samples/s "
                                            "over batch sizes and instance counts)");
  cmd->add_option("--model-repository", args->repository, "Model repository folder")
      ->capture_default_str();
  cmd->add_option("-m,--models", args->models, "Models to profile")->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-p,--processors", args->processors,
                  "CPU processors: cpu, cpu:N, cpu:N-M, cpu:*, cpu/K (docs/processors.md)")
      ->capture_default_str();
  cmd->add_option("--simulated", args->simulated,
                  "Simulated processor declarations (e.g. data/processors/simulated.json)");
  cmd->add_option("-e,--engines", args->engines, "Engines (onnx, torchscript); default: all")
      ->delimiter(',');
  cmd->add_option("-b,--batch-sizes", args->batch_sizes, "Batch sizes to sweep")->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-i,--instances", args->instances, "Concurrent instance counts")->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--warmup-ms", args->warmup_ms, "Warm-up per cell")->capture_default_str();
  cmd->add_option("--window-ms", args->window_ms, "Measurement window")->capture_default_str();
  cmd->add_option("--stability-percent", args->stability_percent,
                  "Stable when the last 3 windows are within this % of their mean")
      ->capture_default_str();
  cmd->add_option("--max-cell-s", args->max_cell_s, "Time cap per cell")->capture_default_str();
  cmd->add_option("-o,--out", args->out, "Folder for stored tables and plots")->capture_default_str();
  cmd->add_flag("--force", args->force, "Measure again even if a matching table is stored");
  cmd->add_flag("--list", args->list, "List processors with live state and exit");
  cmd->add_flag("--no-plot", args->no_plot, "Do not write a plot");
  return [args] { return RunProfile(*args); };
}

}  // namespace batchwise::cli
