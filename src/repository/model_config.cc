#include "repository/model_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace batchwise {
namespace fs = std::filesystem;
namespace {

Result<std::vector<TensorSpec>> ParseSpecs(const nlohmann::json& arr, const char* what) {
  if (!arr.is_array() || arr.empty()) {
    return InvalidArgument(std::string("'") + what + "' must be a non-empty array");
  }
  std::vector<TensorSpec> specs;
  for (const auto& t : arr) {
    TensorSpec s;
    s.name = t.at("name").get<std::string>();
    BW_ASSIGN_OR_RETURN(s.dtype, ParseDataType(t.at("datatype").get<std::string>()));
    s.shape = t.at("shape").get<Shape>();
    if (s.shape.empty() || s.shape[0] != -1) {
      return InvalidArgument(std::string(what) + " '" + s.name +
                             "' must have the batch dimension -1 first");
    }
    for (size_t i = 1; i < s.shape.size(); ++i) {
      if (s.shape[i] < 1) {
        return InvalidArgument(std::string(what) + " '" + s.name + "' has a non-positive dim");
      }
    }
    specs.push_back(std::move(s));
  }
  return specs;
}

Result<std::vector<ModelEngineFile>> ParseEngines(const nlohmann::json& j,
                                                  const std::string& folder) {
  std::vector<std::string> order = {"torchscript", "onnx", "simulated"};
  if (j.contains("engine_preference")) order = j["engine_preference"].get<std::vector<std::string>>();
  const auto& engines = j.at("engines");
  std::vector<ModelEngineFile> out;
  for (const auto& name : order) {
    if (!engines.contains(name)) continue;
    ModelEngineFile f;
    BW_ASSIGN_OR_RETURN(f.engine, ParseEngineKind(name));
    fs::path p = engines[name].at("file").get<std::string>();
    f.path = (p.is_absolute() ? p : fs::path(folder) / p).lexically_normal().string();
    out.push_back(std::move(f));
  }
  if (out.empty()) return InvalidArgument("'engines' names no known engine");
  return out;
}

}  // namespace

const ModelEngineFile* ModelConfig::FindEngine(EngineKind kind) const {
  for (const auto& e : engines) {
    if (e.engine == kind) return &e;
  }
  return nullptr;
}

Status ModelConfig::CheckShape(const TensorSpec& spec, const Shape& shape) const {
  bool ok = shape.size() == spec.shape.size() && !shape.empty() && shape[0] >= 1 &&
            std::equal(shape.begin() + 1, shape.end(), spec.shape.begin() + 1);
  if (!ok) {
    return InvalidArgument("input '" + spec.name + "' has shape " + ShapeToString(shape) +
                           ", model '" + name + "' expects " + ShapeToString(spec.shape));
  }
  if (shape[0] > max_batch_size) {
    return InvalidArgument("input '" + spec.name + "' has batch " + std::to_string(shape[0]) +
                           ", above model '" + name + "' max_batch_size " +
                           std::to_string(max_batch_size));
  }
  return Status::Ok();
}

Result<ModelConfig> ParseModelConfig(const nlohmann::json& j, const std::string& folder) {
  try {
    ModelConfig c;
    c.folder = folder;
    c.name = j.at("name").get<std::string>();
    c.kind = j.value("kind", "");
    c.max_batch_size = j.value("max_batch_size", 1);
    if (c.max_batch_size < 1) return InvalidArgument("max_batch_size must be >= 1");
    BW_ASSIGN_OR_RETURN(c.inputs, ParseSpecs(j.at("inputs"), "inputs"));
    BW_ASSIGN_OR_RETURN(c.outputs, ParseSpecs(j.at("outputs"), "outputs"));
    BW_ASSIGN_OR_RETURN(c.engines, ParseEngines(j, folder));
    c.processor_kinds = j.value("processor_kinds", std::vector<std::string>{});
    c.latency_target_ms = j.value("latency_target_ms", 0.0);
    if (c.latency_target_ms < 0) return InvalidArgument("latency_target_ms must be >= 0");
    if (j.contains("batching")) c.batching_json = j["batching"].dump();
    return c;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("malformed model config: ") + e.what());
  }
}

Result<ModelConfig> LoadModelConfig(const std::string& folder) {
  std::string path = (fs::path(folder) / "config.json").string();
  std::ifstream in(path);
  if (!in) return NotFound("no model config at " + path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(path + ": not valid JSON");
  auto c = ParseModelConfig(j, folder);
  if (!c.ok()) return c.status().WithContext(path);
  if (c->name != fs::path(folder).filename().string()) {
    return InvalidArgument(path + ": name '" + c->name + "' differs from its folder name");
  }
  return c;
}

Result<std::vector<std::string>> ListModelFolders(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return NotFound("model repository " + root + " is not a folder");
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / "config.json")) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace batchwise
