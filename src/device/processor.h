// Processor: one place a model instance can run — a CPU (whole or a partition of its cores), an
// NVIDIA GPU, or a simulated accelerator replaying a load-performance table (docs/design.md).
//
// Plain value types and pure functions: not synchronised, safe to copy between threads. The spec
// grammar and the simulated declaration format are documented in docs/processors.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/perf_table.h"
#include "common/status.h"

namespace batchwise {

class SimulatedLoad;

enum class ProcessorKind { kCpu, kGpu, kNpu };

// "cpu", "gpu", "npu".
std::string_view ProcessorKindName(ProcessorKind kind);
Result<ProcessorKind> ParseProcessorKind(std::string_view name);

struct Processor {
  std::string id;  // stable: "cpu", "cpu:0", "cpu:0-3", "gpu:0", "sim:a100"
  ProcessorKind kind = ProcessorKind::kCpu;
  bool simulated = false;
  // CPU processors: the logical PU ids (OS numbering, as in /proc/stat "cpuN" and
  // sched_setaffinity) an instance on this processor is pinned to. Empty for others.
  std::vector<int> cores;
  uint64_t memory_bytes = 0;  // CPU: machine memory; GPU: device memory; simulated: declared
  // Hardware identity: a stored profile is reused only when the signature matches exactly.
  std::string signature;
  std::string model;  // human-readable hardware name ("AMD EPYC", "NVIDIA H100 80GB HBM3")

  int gpu_index = -1;  // NVML device index for real GPUs; -1 otherwise
  // Simulated processors only: the table that drives its latency, and the load the simulated
  // engine reports busy time and memory to (shared by that engine and the monitor).
  std::shared_ptr<const PerfTable> table;
  std::shared_ptr<SimulatedLoad> load;
};

// What hwloc (or a test) says about the CPU: its model name, its cores in logical order, and the
// logical PUs (hardware threads, OS numbering) of each core.
struct CpuTopology {
  std::string model;  // "AMD EPYC"; "unknown" when neither source has one
  int packages = 1;
  std::vector<std::vector<int>> cores;  // cores[i] = OS ids of core i's PUs
  uint64_t memory_bytes = 0;            // machine memory (MemTotal; hwloc's if unreadable)
};

// Reads the topology with hwloc; the model name falls back to /proc/cpuinfo "model name", memory
// is /proc/meminfo MemTotal (hwloc's NUMA total if that is unreadable).
Result<CpuTopology> DiscoverCpuTopology();

// Turns a CPU spec (docs/processors.md: "cpu", "cpu:1", "cpu:0-3", "cpu/2", "cpu:*", comma-
// separated lists of these) into CPU processors over `topology`. Core numbers in the spec are
// logical core indices (0..cores-1). Overlapping or out-of-range items are InvalidArgument.
Result<std::vector<Processor>> MakeCpuProcessors(const CpuTopology& topology,
                                                 std::string_view spec);

// "cpu|AMD EPYC|pus=0,1|mem_bytes=25276502016".
std::string CpuSignature(const CpuTopology& topology, const std::vector<int>& pus);

}  // namespace batchwise
