// Test helpers: the generated model repository (tools/gen_models.py) and its reference tensors.
// Plain functions and values: thread-safe.
#pragma once

#include <string>
#include <vector>

#include "backend/engine.h"

namespace batchwise::testing {

// $BATCHWISE_MODELS, else <source dir>/models.
std::string ModelsDir();

// One generated model: its declared specs and PyTorch's reference input/output tensors.
struct ReferenceModel {
  std::string name;
  std::string dir;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::vector<Tensor> ref_inputs;
  std::vector<Tensor> ref_outputs;
  // The config's engines.torchscript.optimize_for_inference (EngineOptions' field).
  bool optimize_for_inference = true;

  std::string File(EngineKind kind) const;
  // Options for `kind` on `target` with this model's file and specs.
  EngineOptions Options(EngineKind kind, ExecutionTarget target = {}) const;
};

// NOT_FOUND when the model has not been generated.
Result<ReferenceModel> LoadReferenceModel(const std::string& name);

// The message tests skip with when models are missing.
std::string NoModelsMessage(const Status& why);

}  // namespace batchwise::testing
