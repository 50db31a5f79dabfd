// ModelConfig: one model's configuration, read from <repository>/<model>/config.json.
//
// The format is documented in docs/model-repository.md. Plain value type; parsing is a pure
// function of the JSON and the folder it came from.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "backend/engine.h"
#include "common/status.h"

namespace batchwise {

struct ModelEngineFile {
  EngineKind engine = EngineKind::kOnnx;
  std::string path;  // absolute path of the model file for this engine
};

struct ModelConfig {
  std::string name;
  std::string kind;  // informational ("image_classification", "pv_forecast")
  std::string folder;
  int max_batch_size = 1;
  std::vector<TensorSpec> inputs;   // shapes with -1 as the batch dimension
  std::vector<TensorSpec> outputs;
  // Engines the model has files for, in order of preference (torchscript, then onnx, unless the
  // config's optional "engine_preference" says otherwise).
  std::vector<ModelEngineFile> engines;
  // Processor kinds the model may be placed on ("cpu", "gpu", "npu"); empty: any.
  std::vector<std::string> processor_kinds;
  // Per-request latency target in milliseconds (0: none configured; serving uses its default).
  double latency_target_ms = 0;
  // Optional "batching" section, interpreted by serving/ (policy and its options).
  std::string batching_json;

  const ModelEngineFile* FindEngine(EngineKind kind) const;
  // Checks a request's shape (with its batch dimension) against an input's declared shape.
  Status CheckShape(const TensorSpec& spec, const Shape& shape) const;
};

Result<ModelConfig> ParseModelConfig(const nlohmann::json& j, const std::string& folder);
// Reads and parses <folder>/config.json; errors name the file.
Result<ModelConfig> LoadModelConfig(const std::string& folder);

// The model folders under `root` that hold a config.json, sorted by name.
Result<std::vector<std::string>> ListModelFolders(const std::string& root);

}  // namespace batchwise
