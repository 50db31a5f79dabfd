#include "placement/processor_view.h"

#include <algorithm>

#include "device/simulated.h"

namespace batchwise {

ProcessorPerformance PerformanceOf(const Processor& p, const PerfTable* profile,
                                   const ProcessorViewOptions& options) {
  ProcessorPerformance perf;
  const PerfTable* table = profile != nullptr ? profile : p.table.get();
  if (table != nullptr && !table->cells.empty()) {
    perf.samples_per_s = table->ProcessingPerformance();
    perf.max_instances = table->MaxUsefulInstances(options.min_instance_gain);
    perf.source = profile != nullptr ? "profile" : "simulated table";
    perf.max_instances_source = "the most instances its " + perf.source + " finds useful";
  } else {
    perf.samples_per_s = options.unprofiled_performance_per_s;
    perf.max_instances = options.unprofiled_max_instances;
    perf.source = "fallback";
    perf.max_instances_source = "the limit of a processor without a profile";
  }
  perf.max_instances = std::max(perf.max_instances, 1);
  const int cores = static_cast<int>(p.cores.size());
  if (p.kind == ProcessorKind::kCpu && !p.simulated && cores > 0 && cores < perf.max_instances) {
    perf.max_instances = cores;
    perf.max_instances_source = "one instance per core of a " + std::to_string(cores) +
                                "-core partition";
  }
  perf.max_instances_source += " (" + std::to_string(perf.max_instances) + ")";
  if (table != nullptr && !table->cells.empty()) {
    for (int k = 1; k <= perf.max_instances; ++k) perf.capacity_per_s.push_back(table->Capacity(k));
  }
  return perf;
}

std::vector<std::string> EnginesFor(const Processor& p) {
  if (p.simulated) return {"simulated"};
  if (p.kind == ProcessorKind::kCpu) return {"onnx", "torchscript"};
#ifdef BATCHWISE_WITH_CUDA
  if (p.kind == ProcessorKind::kGpu) return {"torchscript"};
#endif
  return {};  // e.g. a GPU in a build without CUDA: never a candidate
}

namespace {

void FillMemory(const Processor& p, const ProcessorState* state, ProcessorView& v) {
  if (p.simulated && p.load != nullptr) {
    const uint64_t total = p.load->memory_bytes();
    const uint64_t used = std::min(total, p.load->reserved_bytes());
    v.memory_free_bytes = total - used;
    v.memory_utilization = total > 0 ? static_cast<double>(used) / total : 0;
  } else if (state != nullptr && state->memory_available) {
    v.memory_free_bytes = state->memory_total_bytes > state->memory_used_bytes
                              ? state->memory_total_bytes - state->memory_used_bytes
                              : 0;
    v.memory_utilization = state->memory_utilization;
  } else {
    v.memory_free_bytes = p.memory_bytes;
  }
}

}  // namespace

ProcessorView MakeProcessorView(const Processor& p, const ProcessorState* state,
                                const ProcessorPerformance& perf, const Occupancy& occupancy) {
  ProcessorView v;
  v.id = p.id;
  v.kind = std::string(ProcessorKindName(p.kind));
  v.simulated = p.simulated;
  if (state != nullptr && state->utilization_available) v.utilization = state->utilization;
  FillMemory(p, state, v);
  v.performance = perf.samples_per_s;
  v.instances = occupancy.instances;
  v.max_instances = perf.max_instances;
  v.max_instances_source = perf.max_instances_source;
  v.capacity_per_s = perf.capacity_per_s;
  v.reserved_utilization = occupancy.reserved_utilization;
  v.engines = EnginesFor(p);
  return v;
}

int ThreadsPerInstance(const Processor& p, int max_instances) {
  const int cores = static_cast<int>(p.cores.size());
  if (cores == 0) return 0;  // every CPU the process may use: the engine decides
  return std::max(1, cores / std::max(1, max_instances));
}

}  // namespace batchwise
