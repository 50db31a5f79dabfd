// The simulated processor: latency replayed from a load-performance table on an injected Clock.
#pragma once

#include <memory>

#include "backend/engine.h"

namespace batchwise {

Result<std::unique_ptr<Engine>> CreateSimulatedEngine(const EngineOptions& options);

}  // namespace batchwise
