// Simulated processors: accelerators declared in a JSON file, each replaying a load-performance
// table, and the SimulatedLoad through which the simulated engine reports what it is doing.
//
// SimulatedLoad is thread-safe (engine threads report, the monitor reads); it is shared between
// the Processor, the simulated engine and the monitor's source, hence std::shared_ptr.
// The declaration format is documented in docs/processors.md.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "device/processor.h"

namespace batchwise {

class SimulatedLoad {
 public:
  explicit SimulatedLoad(uint64_t memory_bytes) : memory_bytes_(memory_bytes) {}

  // Reports that the processor computed for `busy` (one simulated batch). Concurrent instances
  // report overlapping intervals; utilisation is capped at 1.
  void AddBusy(Duration busy);
  // Reserves an instance's footprint; ResourceExhausted (and nothing reserved) if it does not fit.
  Status Reserve(uint64_t bytes);
  // Returns a footprint reserved earlier (clamped at zero).
  void Release(uint64_t bytes);

  Duration busy_total() const;
  uint64_t reserved_bytes() const;
  uint64_t memory_bytes() const { return memory_bytes_; }

 private:
  const uint64_t memory_bytes_;
  mutable std::mutex mu_;
  Duration busy_total_{0};  // guarded by mu_
  uint64_t reserved_ = 0;   // guarded by mu_
};

// Reads a declaration file (format "batchwise.simulated_processors/1"). Table paths are relative
// to the file's directory. Each processor gets id "sim:<name>", simulated = true, its table, a
// fresh SimulatedLoad and signature "simulated:<table id>/<model>#<hash of cells>|mem_bytes=N".
Result<std::vector<Processor>> LoadSimulatedProcessors(const std::string& path);

// "simulated:a100-80gb/resnet50#1a2b3c4d|mem_bytes=85899345920".
std::string SimulatedSignature(const PerfTable& table, uint64_t memory_bytes);

}  // namespace batchwise
