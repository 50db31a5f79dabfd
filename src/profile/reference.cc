#include "profile/reference.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "backend/engine.h"
#include "profile/store.h"

namespace batchwise {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

bool CanMeasure(const Processor& p) {
  if (p.simulated) return false;
  if (p.kind == ProcessorKind::kCpu) return true;
#ifdef BATCHWISE_WITH_CUDA
  if (p.kind == ProcessorKind::kGpu) return true;
#endif
  return false;
}

// The reference model's first engine file that runs on `p` (its preference order).
const ModelEngineFile* MeasurableFile(const ModelConfig& m, const Processor& p) {
  for (const auto& f : m.engines) {
    if (f.engine == EngineKind::kOnnx && p.kind == ProcessorKind::kCpu) return &f;
    if (f.engine == EngineKind::kTorchScript) return &f;
  }
  return nullptr;
}

std::string Seconds(Duration d) {
  std::ostringstream s;
  s.precision(3);
  s << std::chrono::duration<double>(d).count() << " s";
  return s.str();
}

// Measures and stores one processor's table; the error says why when it cannot.
Result<ReferenceProfile> Measure(const Processor& p, const ModelConfig& reference,
                                 const ReferenceProfileOptions& o, Clock& clock) {
  const ModelEngineFile* file = MeasurableFile(reference, p);
  if (file == nullptr) return NotFound("the reference model has no engine that runs here");
  BW_ASSIGN_OR_RETURN(std::string hash, HashFile(file->path));
  PerfTable table = NewTable(reference, *file, hash, p);
  const ProfileOptions sweep = o.sweep.value_or(ShortSweep(reference, p));
  spdlog::info("{}: no stored table of {} for this processor; measuring one ({} with {}, {} "
               "cells of at most {} each)",
               p.id, reference.name, p.model, table.engine,
               sweep.batch_sizes.size() * sweep.instance_counts.size(),
               Seconds(sweep.warmup + sweep.max_cell_duration));
  const TimePoint start = clock.Now();
  Profiler profiler(&clock, sweep);
  auto progress = [&](const ProfileProgress& pr) {
    spdlog::debug("{}: profiling cell {}/{}: batch {} x {} instance(s)", p.id, pr.cell, pr.cells,
                 pr.batch_size, pr.instances);
  };
  BW_RETURN_IF_ERROR(profiler.Run(ProfileEngineFactory(reference, *file, p), nullptr, progress,
                                  table));
  ReferenceProfile out{p.id, true, std::move(table), ""};
  out.origin = "measured now in " + Seconds(clock.Now() - start);
  if (!o.store_dir.empty()) {
    auto path = ProfileStore(o.store_dir).Save(out.table);
    out.origin += path.ok() ? ", stored in " + *path
                            : ", not stored (" + path.status().ToString() + ")";
  }
  return out;
}

}  // namespace

std::string DefaultProfileDir() {
  if (std::string d = Env("BATCHWISE_STATE_DIR"); !d.empty()) return d + "/profiles";
  if (std::string d = Env("XDG_STATE_HOME"); !d.empty()) return d + "/batchwise/profiles";
  if (std::string d = Env("HOME"); !d.empty()) return d + "/.local/state/batchwise/profiles";
  return "batchwise-state/profiles";
}

ProfileOptions ShortSweep(const ModelConfig& reference, const Processor& processor) {
  ProfileOptions o;
  o.batch_sizes.clear();
  for (int b : {1, 2, 4, 8}) {
    if (b <= reference.max_batch_size) o.batch_sizes.push_back(b);
  }
  if (o.batch_sizes.empty()) o.batch_sizes = {1};
  o.instance_counts = {1};
  if (processor.cores.size() >= 2) o.instance_counts.push_back(2);
  o.warmup = std::chrono::milliseconds(300);
  o.window = std::chrono::milliseconds(500);
  o.stable_windows = 2;
  o.stability_percent = 10;
  o.max_cell_duration = std::chrono::seconds(3);
  o.max_batch_latency = std::chrono::seconds(2);
  return o;
}

SweepEngineFactory ProfileEngineFactory(const ModelConfig& model, const ModelEngineFile& file,
                                   const Processor& p) {
  return [&model, &file, &p](int, int instances) {
    EngineOptions o;
    o.model_path = file.path;
    o.optimize_for_inference = file.optimize_for_inference;
    if (p.kind == ProcessorKind::kGpu) {
      o.target.device = ExecutionTarget::Device::kCuda;
      o.target.gpu_index = p.gpu_index;
    } else {
      o.target.device = ExecutionTarget::Device::kCpu;
      o.target.cpu_cores = p.cores;
      o.target.num_threads = std::max<int>(1, static_cast<int>(p.cores.size()) / instances);
    }
    o.inputs = model.inputs;
    o.outputs = model.outputs;
    return CreateEngine(file.engine, o);
  };
}

PerfTable NewTable(const ModelConfig& model, const ModelEngineFile& file, const std::string& hash,
                   const Processor& p) {
  PerfTable t;
  t.processor_id = p.id;
  t.processor_kind = std::string(ProcessorKindName(p.kind));
  t.processor_signature = p.signature;
  t.source = "batchwise profile on " + p.model;
  t.model_name = model.name;
  t.model_hash = hash;
  t.engine = std::string(EngineKindName(file.engine));
  return t;
}

std::map<std::string, PerfTable> StoredProfiles(const std::string& store_dir,
                                                const ModelConfig& reference,
                                                const std::vector<Processor>& processors) {
  std::map<std::string, PerfTable> out;
  std::error_code ec;
  if (store_dir.empty() || !fs::is_directory(store_dir, ec)) return out;
  ProfileStore store(store_dir);
  for (const auto& p : processors) {
    if (p.simulated) continue;
    for (const auto& file : reference.engines) {
      auto hash = HashFile(file.path);
      if (!hash.ok()) continue;
      auto t = store.Find(p.id, p.signature, reference.name, *hash,
                          std::string(EngineKindName(file.engine)));
      if (t && (!out.contains(p.id) ||
                t->ProcessingPerformance() > out[p.id].ProcessingPerformance())) {
        out[p.id] = std::move(*t);
      }
    }
  }
  return out;
}

std::vector<ReferenceProfile> ReferenceProfiles(const std::vector<Processor>& processors,
                                                const ModelConfig& reference,
                                                const ReferenceProfileOptions& o, Clock& clock) {
  std::map<std::string, PerfTable> stored = StoredProfiles(o.store_dir, reference, processors);
  std::vector<ReferenceProfile> out;
  for (const auto& p : processors) {
    ReferenceProfile r{p.id, false, {}, ""};
    if (auto it = stored.find(p.id); it != stored.end()) {
      r.has_table = true;
      r.table = std::move(it->second);
      r.origin = "stored in " + ProfileStore(o.store_dir).PathFor(p.id, reference.name,
                                                                   r.table.engine);
    } else if (p.simulated) {
      r.origin = p.table ? "declared by the simulated processor's table" : "none declared";
    } else if (!o.measure) {
      r.origin = "none (--no-profile): the performance term is off for it";
    } else if (!CanMeasure(p)) {
      r.origin = "none: this build cannot run the reference model on a " +
                 std::string(ProcessorKindName(p.kind));
    } else if (auto m = Measure(p, reference, o, clock); m.ok()) {
      r = std::move(*m);
    } else {
      r.origin = "none: measuring failed: " + m.status().ToString();
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace batchwise
