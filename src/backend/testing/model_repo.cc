#include "backend/testing/model_repo.h"

#include <cstdlib>

#include "repository/model_config.h"
#include "repository/reference.h"

namespace batchwise::testing {

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
  o.optimize_for_inference = optimize_for_inference;
  return o;
}

Result<ReferenceModel> LoadReferenceModel(const std::string& name) {
  ReferenceModel m;
  m.name = name;
  m.dir = ModelsDir() + "/" + name;
  BW_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(m.dir));
  m.inputs = config.inputs;
  m.outputs = config.outputs;
  if (const ModelEngineFile* ts = config.FindEngine(EngineKind::kTorchScript)) {
    m.optimize_for_inference = ts->optimize_for_inference;
  }
  BW_ASSIGN_OR_RETURN(ReferenceTensors ref, LoadReferenceTensors(m.dir));
  m.ref_inputs = std::move(ref.inputs);
  m.ref_outputs = std::move(ref.outputs);
  return m;
}

std::string NoModelsMessage(const Status& why) {
  return "reference models not generated (" + why.ToString() +
         "); run: /usr/bin/python3 tools/gen_models.py --out " + ModelsDir();
}

}  // namespace batchwise::testing
