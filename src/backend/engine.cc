#include "backend/engine.h"

#include "backend/onnx_engine.h"
#include "backend/simulated_engine.h"
#include "backend/torchscript_engine.h"

namespace batchwise {

std::string_view EngineKindName(EngineKind kind) {
  switch (kind) {
    case EngineKind::kOnnx: return "onnx";
    case EngineKind::kTorchScript: return "torchscript";
    case EngineKind::kSimulated: return "simulated";
  }
  return "unknown";
}

Result<EngineKind> ParseEngineKind(std::string_view name) {
  if (name == "onnx") return EngineKind::kOnnx;
  if (name == "torchscript") return EngineKind::kTorchScript;
  if (name == "simulated") return EngineKind::kSimulated;
  return InvalidArgument("unknown engine '" + std::string(name) +
                         "' (expected onnx, torchscript or simulated)");
}

Result<std::unique_ptr<Engine>> CreateEngine(EngineKind kind, const EngineOptions& options) {
  switch (kind) {
    case EngineKind::kOnnx: return CreateOnnxEngine(options);
    case EngineKind::kTorchScript: return CreateTorchScriptEngine(options);
    case EngineKind::kSimulated: return CreateSimulatedEngine(options);
  }
  return InvalidArgument("unknown engine kind");
}

}  // namespace batchwise
