// Presentation of processors and their live state: an aligned text table (for
// `batchwise profile --list` and `serve` start-up logs) and JSON.
//
// Pure functions over values: safe from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "device/monitor.h"
#include "device/processor.h"

namespace batchwise {

// "0-3,8": consecutive core ids folded into ranges (as /proc's Cpus_allowed_list); "-" if none.
std::string CoreList(const std::vector<int>& cores);

nlohmann::json ToJson(const Processor& p);
// Timestamps are the monitor clock's (steady, arbitrary epoch) in milliseconds: compare them with
// each other, not with wall time.
nlohmann::json ToJson(const ProcessorState& s);
// [{processor..., "state": {...}}, ...]; a processor without state gets "state": null.
nlohmann::json ToJson(const std::vector<Processor>& processors,
                      const std::vector<ProcessorState>& states);

// One row per processor: ID KIND SIM CORES MEMORY UTIL MEM-UTIL MODEL, columns padded to align.
// Unavailable readings print as "n/a". Rows of simulated processors say "yes" under SIM.
std::string FormatProcessorTable(const std::vector<Processor>& processors,
                                 const std::vector<ProcessorState>& states);

}  // namespace batchwise
