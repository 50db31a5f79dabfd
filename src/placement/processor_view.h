// Building ProcessorView snapshots from what the system knows about a processor: its declaration
// (device/processor.h), its live state (device/monitor.h), its performance (a stored profile or its
// simulated table) and the instances the scheduler has put there.
//
// Pure functions over plain values: thread-safe. Where each number comes from is documented in
// docs/placement.md ("Where the numbers come from").
#pragma once

#include <string>
#include <vector>

#include "device/monitor.h"
#include "device/processor.h"
#include "placement/placer.h"

namespace batchwise {

struct ProcessorViewOptions {
  // P for a processor with neither a stored profile nor a simulated table, samples/s of the
  // reference model. 0: it counts as the slowest processor (the full capability penalty w_c).
  double unprofiled_performance_per_s = 0;
  // Maximum instances on a processor whose table does not say.
  int unprofiled_max_instances = 1;
  // Relative throughput an extra instance must add to count (PerfTable::MaxUsefulInstances).
  double min_instance_gain = 0.05;
};

// A processor's processing performance and instance limit, with where they came from.
struct ProcessorPerformance {
  double samples_per_s = 0;  // P_p
  int max_instances = 1;
  std::string source;  // "profile", "simulated table" or "fallback"
  // What sets max_instances, in words (ProcessorView::max_instances_source).
  std::string max_instances_source;
  // [k-1]: the table's capacity with k instances (PerfTable::Capacity), k = 1..max_instances;
  // empty for the fallback (ProcessorView::capacity_per_s).
  std::vector<double> capacity_per_s;
};

// From `profile` when given (a stored table measured on this processor), else from the
// processor's simulated table, else the fallback options. CPU processors never get more instances
// than cores, so each instance keeps at least one core.
ProcessorPerformance PerformanceOf(const Processor& p, const PerfTable* profile,
                                   const ProcessorViewOptions& options);

// Engines that can run on `p`: "onnx" and "torchscript" on real CPUs, "torchscript" on real GPUs
// in a CUDA build (none in another: a GPU is then never a candidate), "simulated" on simulated
// processors of any kind.
std::vector<std::string> EnginesFor(const Processor& p);

// What the scheduler has put on a processor.
struct Occupancy {
  int instances = 0;
  // Sum of expected_rate / P over the instances there (see ProcessorView::reserved_utilization).
  double reserved_utilization = 0;
};

// The view placement scores. Utilisation and memory utilisation come from the monitor's smoothed
// state (`state` may be null: no reading yet, counted as idle). Free memory of a simulated
// processor comes from its SimulatedLoad (exact and immediate); of others from the monitor's
// latest reading, or the declared memory when there is none.
ProcessorView MakeProcessorView(const Processor& p, const ProcessorState* state,
                                const ProcessorPerformance& perf, const Occupancy& occupancy);

// Compute threads of one instance on a CPU processor: its cores split evenly over the most
// instances it may hold, so instances sharing it never use more threads than it has cores.
int ThreadsPerInstance(const Processor& p, int max_instances);

}  // namespace batchwise
