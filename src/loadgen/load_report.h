// What `batchwise bench` shows and writes of a run: an aligned table per model and phase, JSON of
// everything, CSV time series, and a plot of latency and the server's batch size over time.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "loadgen/driver.h"
#include "loadgen/kserve_load.h"

namespace batchwise {

// One model's share of a run.
struct ModelLoadResult {
  std::string model;
  double slo_ms = 0;
  // One label per phase ("20s@300/s", "10s@100->500/s", "closed 16 clients").
  std::vector<std::string> phase_labels;
  OpenLoopResult result;  // a closed-loop run has one phase, equal to the total
  std::vector<LoadTimeSeries::Window> series;
};

// Per model: a row per phase and one for the whole run (sent, ok, throughput, goodput, SLO
// attainment, p50/p90/p99/p99.9, errors by class).
std::string FormatLoadResults(const std::vector<ModelLoadResult>& results);

nlohmann::json LoadResultsJson(const std::vector<ModelLoadResult>& results,
                               const std::vector<ControllerPoller::Sample>& controller);

// `<path>`: model,t_s,ok_per_s,goodput_per_s,errors_per_s,p50_ms,p99_ms per window;
// `<path minus .csv>.controller.csv`: model,t_s,batch_size,settled,z,queued_samples,
// direction_changes.
Status WriteLoadCsv(const std::vector<ModelLoadResult>& results,
                    const std::vector<ControllerPoller::Sample>& controller,
                    const std::string& csv_path, double window_s);

// A PNG (gnuplot) of p50/p99 latency, goodput and the server's batch size over time, one line per
// model; leaves its data (CSV) and script (<png>.gp) beside it.
Status WriteLoadPlot(const std::vector<ModelLoadResult>& results,
                     const std::vector<ControllerPoller::Sample>& controller,
                     const std::string& png_path, double window_s, const std::string& title);

}  // namespace batchwise
