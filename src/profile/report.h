// Human-facing views of load-performance tables: an aligned text table and a plot.
#pragma once

#include <string>
#include <vector>

#include "common/perf_table.h"
#include "common/status.h"

namespace batchwise {

// One row per cell: processor, engine, instances, batch, samples/s, latency avg/p50/p90/p99,
// memory, utilisation; tables from simulated processors are marked "(simulated)".
std::string FormatPerfTables(const std::vector<PerfTable>& tables);

// Writes a PNG (gnuplot) with two panels, throughput and p99 latency against batch size, one line
// per (processor, engine, instance count). Also leaves the gnuplot script and data beside it
// (<png>.gp, <png>.dat) so the plot can be regenerated or restyled. FailedPrecondition when
// gnuplot is not installed.
Status WritePerfPlot(const std::vector<PerfTable>& tables, const std::string& png_path,
                     const std::string& title);

}  // namespace batchwise
