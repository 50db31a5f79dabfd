// Triton's model configuration: config.pbtxt (protobuf text format) and its JSON form (the
// `parameters.config` of a repository load request), read against proto/model_config.proto, our
// subset of Triton's published model_config.proto (same field names and numbers).
//
// What each field becomes is documented in docs/model-repository.md ("Triton repositories"):
// platform/backend choose the engine, numeric version folders hold the model file, version_policy
// chooses the version that serves, dynamic_batching and instance_group become the "batching"
// section and the placement constraints. A field outside the subset is an error naming it.
#pragma once

#include <string>

#include "common/status.h"
#include "repository/model_config.h"

namespace batchwise {

// Parses config.pbtxt text for the model in `folder`. Errors name `file` and, for syntax errors
// and unknown fields, the line and the field.
Result<ModelConfig> ParseTritonConfigText(const std::string& text, const std::string& folder,
                                          const std::string& file);
// Parses Triton's model config as JSON (the load request's parameters.config).
Result<ModelConfig> ParseTritonConfigJson(const std::string& json_text, const std::string& folder);

// The config of a repository load that carries Triton's `parameters.config`: the JSON given
// replaces the folder's config file for that load (the model files still come from `folder`,
// which must exist: NOT_FOUND otherwise). Its name, if given, must be the folder's.
Result<ModelConfig> LoadModelConfigFromJson(const std::string& folder,
                                            const std::string& json_text);

}  // namespace batchwise
