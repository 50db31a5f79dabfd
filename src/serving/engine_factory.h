// How the scheduler gets an Engine for one instance, and what it adds on simulated processors.
//
// The factory is injectable so tests and benchmarks can supply their own engines; the default one
// loads the model's file with the real engines (backend/engine.h). Functions here are thread-safe;
// a SimulatedProcessorEngine is as thread-safe as the engine it wraps (Run is not reentrant).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "backend/engine.h"
#include "device/processor.h"
#include "repository/model_config.h"

namespace batchwise {

// Everything a factory needs to create one instance of a model on a processor.
struct InstanceSpec {
  const ModelConfig* config = nullptr;
  const Processor* processor = nullptr;
  EngineKind engine = EngineKind::kOnnx;  // chosen by placement from the config's engines
  ExecutionTarget target;                 // cores and threads (CPU), device (GPU, simulated)
  Clock* clock = nullptr;
};

using EngineFactory = std::function<Result<std::unique_ptr<Engine>>(const InstanceSpec&)>;

// The production factory. Real processors: CreateEngine() on the config's file for the engine.
// Simulated processors: the simulated engine replaying the processor's table (written once as JSON
// under `table_dir`), so every model on a simulated processor costs what the table's reference
// model costs there (documented in docs/placement.md).
EngineFactory DefaultEngineFactory(std::string table_dir);

// Wraps an engine placed on a simulated processor so the processor behaves like one device: one
// batch at a time over all instances there (`device_lock`, shared by them), busy time reported to
// its SimulatedLoad (which the monitor reads), `footprint_bytes` reserved there while it lives.
// ResourceExhausted when the footprint does not fit.
Result<std::unique_ptr<Engine>> OnSimulatedProcessor(std::unique_ptr<Engine> engine,
                                                     const Processor& processor,
                                                     std::shared_ptr<std::mutex> device_lock,
                                                     uint64_t footprint_bytes, Clock& clock);

}  // namespace batchwise
