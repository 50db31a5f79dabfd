// The TorchScript engine: libtorch (torch::jit::load) on CPU, or on a CUDA device when this build
// and its libtorch have CUDA.
#pragma once

#include <memory>

#include "backend/engine.h"

namespace batchwise {

Result<std::unique_ptr<Engine>> CreateTorchScriptEngine(const EngineOptions& options);

}  // namespace batchwise
