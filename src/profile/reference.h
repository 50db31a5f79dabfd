// Reference profiles: step S1 of the method (docs/design.md §1) on the main job. Every processor
// placement scores needs P, the processing performance of the reference model (ResNet-50) on it, from a load-performance table.
// For each processor this finds, in order:
//   stored    a table in the profile store that matches the processor's signature, the reference
//             model's file hash and one of its engines (the best engine's when several match);
//   measured  when none is stored and measuring is on: a short sweep of the reference model on
//             the processor now (ShortSweep: small batches, at most two instances, bounded
//             cells), saved to the store so the next start finds it;
//   declared  a simulated processor's own table (data/processors/*.json);
//   none      nothing: P is 0 for it and the performance term w_c·(1 − P/P_max) does not tell
//             processors apart (said in the result's `origin`).
// Real GPUs are measured only in a CUDA build (the TorchScript engine on the device).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/perf_table.h"
#include "common/status.h"
#include "device/processor.h"
#include "profile/profiler.h"
#include "repository/model_config.h"

namespace batchwise {

// Where `batchwise profile` stores tables and `serve` looks for them when --profiles is not
// given: $BATCHWISE_STATE_DIR/profiles, else $XDG_STATE_HOME/batchwise/profiles, else
// $HOME/.local/state/batchwise/profiles, else ./batchwise-state/profiles.
std::string DefaultProfileDir();

// The sweep `serve` runs for a processor with no stored table: batch sizes 1, 2, 4 and 8 (up to
// the model's maximum), one instance and, on partitions of two cores or more, two; 300 ms of
// warm-up, 500 ms windows, two stable windows within 10 %, at most 3 s a cell. About 15 s for
// ResNet-50 on one core.
ProfileOptions ShortSweep(const ModelConfig& reference, const Processor& processor);

// Creates the engines a sweep runs on `processor` from `file` of `model` (instance `i` of `n`
// concurrent ones gets cores/n threads). Real CPU partitions; real GPUs in a CUDA build.
SweepEngineFactory ProfileEngineFactory(const ModelConfig& model, const ModelEngineFile& file,
                                   const Processor& processor);

// A table to be measured: the processor's and the model's identity filled in, no cells.
PerfTable NewTable(const ModelConfig& model, const ModelEngineFile& file, const std::string& hash,
                   const Processor& processor);

// Each processor's stored table of `reference` in `store_dir` (the best engine's when several
// match); processors without one are absent.
std::map<std::string, PerfTable> StoredProfiles(const std::string& store_dir,
                                                const ModelConfig& reference,
                                                const std::vector<Processor>& processors);

struct ReferenceProfile {
  std::string processor_id;
  bool has_table = false;
  PerfTable table;      // when has_table
  std::string origin;   // "stored in <path>", "measured now in 14.2 s, stored in <path>", ...
};

struct ReferenceProfileOptions {
  std::string store_dir;  // empty: nothing is found or saved
  bool measure = true;    // false: processors without a stored table get none (--no-profile)
  // The sweep to measure with; unset: ShortSweep() of each processor (tests shorten it).
  std::optional<ProfileOptions> sweep;
};

// One entry per processor, in order. Measuring failures are not errors: the processor gets no
// table and `origin` says why.
std::vector<ReferenceProfile> ReferenceProfiles(const std::vector<Processor>& processors,
                                                const ModelConfig& reference,
                                                const ReferenceProfileOptions& options,
                                                Clock& clock);

}  // namespace batchwise
