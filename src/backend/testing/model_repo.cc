#include "backend/testing/model_repo.h"

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

namespace batchwise::testing {
namespace {

Result<nlohmann::json> ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot open " + path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return InvalidArgument(path + ": not valid JSON");
  return j;
}

Result<Tensor> ReadTensor(const std::string& dir, const nlohmann::json& j) {
  std::ifstream in(dir + "/" + j.at("file").get<std::string>(), std::ios::binary);
  if (!in) return NotFound("cannot open reference tensor in " + dir);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  BW_ASSIGN_OR_RETURN(DataType dtype, ParseDataType(j.at("datatype").get<std::string>()));
  Tensor t = Tensor::CopyOf(dtype, j.at("shape").get<Shape>(),
                            std::as_bytes(std::span<const char>(bytes)));
  BW_RETURN_IF_ERROR(t.Validate());
  return t;
}

Result<std::vector<Tensor>> ReadTensors(const std::string& dir, const nlohmann::json& list) {
  std::vector<Tensor> out;
  for (const auto& j : list) {
    BW_ASSIGN_OR_RETURN(Tensor t, ReadTensor(dir, j));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

std::string ModelsDir() {
  const char* env = std::getenv("BATCHWISE_MODELS");
  if (env != nullptr && *env != '\0') return env;
  return std::string(BATCHWISE_SOURCE_DIR) + "/models";
}

std::string ReferenceModel::File(EngineKind kind) const {
  return dir + (kind == EngineKind::kOnnx ? "/model.onnx" : "/model.pt");
}

EngineOptions ReferenceModel::Options(EngineKind kind, ExecutionTarget target) const {
  EngineOptions o;
  o.model_path = File(kind);
  o.target = std::move(target);
  o.inputs = inputs;
  o.outputs = outputs;
  return o;
}

Result<std::vector<TensorSpec>> ReadSpecs(const std::string& config_path, const std::string& key) {
  BW_ASSIGN_OR_RETURN(nlohmann::json j, ReadJson(config_path));
  std::vector<TensorSpec> specs;
  try {
    for (const auto& s : j.at(key)) {
      BW_ASSIGN_OR_RETURN(DataType dtype, ParseDataType(s.at("datatype").get<std::string>()));
      specs.push_back({s.at("name").get<std::string>(), dtype, s.at("shape").get<Shape>()});
    }
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(config_path + ": " + e.what());
  }
  return specs;
}

Result<ReferenceModel> LoadReferenceModel(const std::string& name) {
  ReferenceModel m;
  m.name = name;
  m.dir = ModelsDir() + "/" + name;
  BW_ASSIGN_OR_RETURN(m.inputs, ReadSpecs(m.dir + "/config.json", "inputs"));
  BW_ASSIGN_OR_RETURN(m.outputs, ReadSpecs(m.dir + "/config.json", "outputs"));
  BW_ASSIGN_OR_RETURN(nlohmann::json ref, ReadJson(m.dir + "/reference.json"));
  try {
    BW_ASSIGN_OR_RETURN(m.ref_inputs, ReadTensors(m.dir, ref.at("inputs")));
    BW_ASSIGN_OR_RETURN(m.ref_outputs, ReadTensors(m.dir, ref.at("outputs")));
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(m.dir + "/reference.json: " + e.what());
  }
  return m;
}

std::string NoModelsMessage(const Status& why) {
  return "reference models not generated (" + why.ToString() +
         "); run: /usr/bin/python3 tools/gen_models.py --out " + ModelsDir();
}

}  // namespace batchwise::testing
