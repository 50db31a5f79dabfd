// PerfTable: a load-performance table — latency and throughput of one model on one processor
// over batch sizes and concurrent instance counts (docs/design.md step S1).
//
// The profiler (profile/) measures and writes these; the simulated processor (backend/) replays
// one; placement reads the processing performance. The JSON format is documented in
// docs/load-performance-table.md. A plain value type: not synchronised.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"

namespace batchwise {

struct PerfCell {
  int batch_size = 1;
  int instances = 1;
  double throughput = 0;  // samples/s, all instances together
  double latency_avg_ms = 0;
  double latency_p50_ms = 0;
  double latency_p90_ms = 0;
  double latency_p99_ms = 0;
  uint64_t memory_bytes = 0;  // footprint of all instances; 0 if unknown
  double utilization = -1;    // processor utilisation in [0,1] during the cell; -1 if unknown
};

struct PerfTable {
  static constexpr const char* kFormat = "batchwise.load_performance_table/1";

  // The processor it was measured on (or, for a simulated one, the hardware it replays).
  std::string processor_id;         // "cpu:0", "a100-80gb"
  std::string processor_kind;       // "cpu", "gpu", "npu"
  std::string processor_signature;  // hardware identity; a table is reused only on a match
  bool simulated = false;           // true when the numbers were not measured on this machine
  std::string source;               // where the numbers come from (command, publication)

  std::string model_name;
  std::string model_hash;  // content hash of the model file
  std::string engine;      // EngineKindName()

  std::vector<PerfCell> cells;

  // The processor's processing performance: the best throughput over all cells (samples/s).
  double ProcessingPerformance() const;
  // Largest instance count whose best throughput is still above the best of one fewer instance by
  // more than `min_gain` (relative, 0.05 = 5 %). 1 for single-instance tables.
  int MaxUsefulInstances(double min_gain = 0.05) const;
  // The processor's capacity with `instances` concurrent instances: the best throughput of that
  // row, or of the largest row below it when the table has none (samples/s; 0 below the first).
  double Capacity(int instances) const;
  // Cells for one instance count, sorted by batch size.
  std::vector<PerfCell> Row(int instances) const;

  // Latency of a batch of `batch_size` with `instances` concurrent instances: linear interpolation
  // between the measured batch sizes, linear extrapolation past the largest (from the last two),
  // the smallest's latency below it. Percentile: 50, 90, 99, or 0 for the average.
  Result<double> LatencyMs(double batch_size, int instances = 1, int percentile = 0) const;

  nlohmann::json ToJson() const;
  static Result<PerfTable> FromJson(const nlohmann::json& j);
  Status Save(const std::string& path) const;
  static Result<PerfTable> Load(const std::string& path);

  // Reads the published-figures CSV (header: processor,batch_size,throughput,latency_avg_ms,
  // latency_p90_ms,latency_p99_ms; '#' comments) and returns the rows of one processor as a
  // simulated single-instance table.
  static Result<PerfTable> FromPublishedCsv(const std::string& path, const std::string& processor);
};

}  // namespace batchwise
