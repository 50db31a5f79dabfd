// Profiler: measures a load-performance table for one model on one processor (docs/design.md S1).
//
// For each instance count k and batch size b it runs k engine instances concurrently, each
// looping batches of b, warms up, then measures in windows until the last `stable_windows`
// windows' throughputs lie within `stability_percent` of their mean (perf_analyzer's rule) or the
// cell's time cap is reached. Time comes from the injected Clock. A Profiler is used from one
// thread; it starts and joins its own worker threads inside Run().
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/engine.h"
#include "common/clock.h"
#include "common/perf_table.h"
#include "common/status.h"

namespace batchwise {

struct ProfileOptions {
  std::vector<int> batch_sizes = {1, 2, 4, 8, 16, 32, 64};
  std::vector<int> instance_counts = {1, 2};
  // Time each cell runs before measuring (lets caches, allocators and thread pools settle).
  Duration warmup = std::chrono::milliseconds(500);
  // Length of one measurement window (stretched to at least 5 batch latencies of the cell).
  Duration window = std::chrono::milliseconds(1000);
  // Stable when this many consecutive windows lie within stability_percent of their mean.
  int stable_windows = 3;
  double stability_percent = 10;
  // A cell stops measuring after this long, stable or not (its `stable` flag says which).
  Duration max_cell_duration = std::chrono::seconds(10);
  // Larger batch sizes are skipped once a batch takes longer than this.
  Duration max_batch_latency = std::chrono::seconds(5);
};

// Creates engine instance `instance` (0-based) of `instances` that will run concurrently on the
// processor being profiled (so the factory can split the processor's threads between them).
using SweepEngineFactory = std::function<Result<std::unique_ptr<Engine>>(int instance, int instances)>;
// Reads the processor's utilisation in [0,1] right now (smoothed), or nullopt if unknown.
using UtilizationProbe = std::function<std::optional<double>()>;

struct ProfileProgress {
  int cell = 0;   // 1-based index of the cell being measured
  int cells = 0;  // total cells planned
  int batch_size = 0;
  int instances = 0;
};
using ProgressCallback = std::function<void(const ProfileProgress&)>;

class CellRecorder;

class Profiler {
 public:
  Profiler(Clock* clock, ProfileOptions options) : clock_(clock), options_(std::move(options)) {}

  static Status Validate(const ProfileOptions& options);

  // Measures every cell; `table` arrives with its processor/model fields filled in by the caller
  // and leaves with its cells. A failing engine aborts the sweep with its Status.
  Status Run(const SweepEngineFactory& factory, const UtilizationProbe& utilization,
             const ProgressCallback& progress, PerfTable& table);

 private:
  Result<PerfCell> MeasureCell(std::vector<std::unique_ptr<Engine>>& engines, int instances,
                               int batch, const UtilizationProbe& utilization);
  // Runs the warm-up; returns the measurement window to use for the cell.
  Result<Duration> WarmUp(CellRecorder& rec, int instances);

  Clock* clock_;
  ProfileOptions options_;
};

// Random inputs of the engine's declared input specs with the given batch size (seeded).
std::vector<Tensor> MakeRandomBatch(const std::vector<TensorSpec>& inputs, int batch, uint32_t seed);

// Latency percentile (0..100) by nearest rank over unsorted samples; 0 when empty.
double Percentile(std::vector<double> samples, double pct);

}  // namespace batchwise
