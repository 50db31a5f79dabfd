// StateSource: where a processor's instantaneous hardware state comes from. One implementation
// per kind of hardware (CPU partition via /proc/stat + memory cgroup/meminfo, NVIDIA GPU via NVML,
// simulated processor via its SimulatedLoad); tests plug in their own.
//
// A source is owned by the monitor and called from one thread at a time (the monitor serialises
// reads under its lock), so implementations need no synchronisation of their own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "device/memory_usage.h"
#include "device/nvml.h"
#include "device/processor.h"

namespace batchwise {

// One unsmoothed reading. A field that could not be read is nullopt and `status` says why.
struct RawState {
  std::optional<double> utilization;         // [0,1]
  std::optional<double> memory_utilization;  // [0,1]
  uint64_t memory_used_bytes = 0;
  uint64_t memory_total_bytes = 0;
  Status status;  // OK when every field was read
};

class StateSource {
 public:
  virtual ~StateSource() = default;
  // Reads the state at `now` (the monitor's clock). The first call of a source that measures over
  // an interval (CPU ticks, simulated busy time) only takes a baseline and may leave
  // `utilization` empty. Must not throw or block for long.
  virtual RawState Read(TimePoint now) = 0;
  // Where the readings come from, for logs and `profile --list`: "/proc/stat cpu0,cpu1 + meminfo".
  virtual std::string Describe() const = 0;
};

// Roots of the host files a CPU source reads: injectable so tests build fake trees.
struct HostPaths {
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
};

// Utilisation of exactly `pus` from <proc_root>/stat; memory from MemoryReader (cgroup or meminfo).
std::unique_ptr<StateSource> NewCpuStateSource(std::vector<int> pus, const HostPaths& paths);
// Utilisation and memory of NVML device `index`.
std::unique_ptr<StateSource> NewGpuStateSource(std::shared_ptr<const NvmlLibrary> nvml, int index);
// Utilisation = busy time reported to `load` / elapsed clock time since the previous read (capped
// at 1); memory = reserved / capacity.
std::unique_ptr<StateSource> NewSimulatedStateSource(std::shared_ptr<const SimulatedLoad> load);

// The source for `p` by its kind. GPUs need `nvml`; FailedPrecondition when it is null.
Result<std::unique_ptr<StateSource>> NewStateSourceFor(const Processor& p, const HostPaths& paths,
                                                       std::shared_ptr<const NvmlLibrary> nvml);

}  // namespace batchwise
