#include "repository/triton_config.h"

#include <algorithm>
#include <filesystem>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "model_config.pb.h"

namespace batchwise {
namespace fs = std::filesystem;
namespace pb = ::batchwise::triton;
namespace {

// Keeps the first error TextFormat reports ("line 3: unknown field 'foo'").
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) error_ = "line " + std::to_string(line + 1) + ": " + message;
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

struct EngineChoice {
  EngineKind engine;
  const char* default_file;
};

// platform and backend name the same engine; at least one is given.
Result<EngineChoice> ChooseEngine(const pb::ModelConfig& m) {
  const std::string& platform = m.platform();
  const std::string& backend = m.backend();
  auto onnx = [](const std::string& p, const std::string& b) {
    return p == "onnxruntime_onnx" || b == "onnxruntime";
  };
  auto torch = [](const std::string& p, const std::string& b) {
    return p == "pytorch_libtorch" || b == "pytorch";
  };
  if (platform.empty() && backend.empty()) {
    return InvalidArgument("platform or backend is needed (onnxruntime_onnx/onnxruntime or "
                           "pytorch_libtorch/pytorch)");
  }
  const bool platform_ok = platform.empty() || onnx(platform, "") || torch(platform, "");
  const bool backend_ok = backend.empty() || onnx("", backend) || torch("", backend);
  if (!platform_ok || !backend_ok) {
    return InvalidArgument(
        (platform_ok ? "backend '" + backend : "platform '" + platform) +
        "' has no engine in Batchwise: it runs ONNX models with OpenCV DNN (platform "
        "onnxruntime_onnx, backend onnxruntime) and TorchScript models with libtorch (platform "
        "pytorch_libtorch, backend pytorch)");
  }
  const bool is_onnx = onnx(platform, backend);
  if (is_onnx && torch(platform, backend)) {
    return InvalidArgument("platform '" + platform + "' and backend '" + backend + "' disagree");
  }
  if (is_onnx) return EngineChoice{EngineKind::kOnnx, "model.onnx"};
  return EngineChoice{EngineKind::kTorchScript, "model.pt"};
}

Result<DataType> ToDataType(pb::DataType t, const std::string& tensor) {
  if (t == pb::TYPE_STRING) return DataType::kBytes;
  std::string name = pb::DataType_Name(t);
  auto d = ParseDataType(name.substr(5));  // after "TYPE_"
  if (t == pb::TYPE_INVALID || !d.ok()) {
    return InvalidArgument("'" + tensor + "' has data_type " + name + ", which Batchwise does not serve");
  }
  return d;
}

// `batched` (max_batch_size > 0): dims leave the batch dimension out, it is added as -1. Else
// (max_batch_size 0) dims are the full shape, whose first dim must be 1: Batchwise takes that 1
// as the batch dimension of a model that runs each request alone, so every other part (engines,
// batcher) sees the shapes it always does.
template <typename T>
Result<std::vector<TensorSpec>> ToSpecs(const google::protobuf::RepeatedPtrField<T>& in,
                                        const char* what, bool batched) {
  if (in.empty()) return InvalidArgument(std::string("at least one ") + what + " is needed");
  std::vector<TensorSpec> out;
  for (const T& t : in) {
    TensorSpec s;
    s.name = t.name();
    if (s.name.empty()) return InvalidArgument(std::string(what) + " without a name");
    BW_ASSIGN_OR_RETURN(s.dtype, ToDataType(t.data_type(), s.name));
    if (!batched && (t.dims().empty() || t.dims(0) != 1)) {
      return InvalidArgument(std::string(what) + " '" + s.name +
                             "': with max_batch_size 0 its dims must start with 1 (Batchwise runs "
                             "a model without a batch dimension one request at a time, the first "
                             "dim being that one request)");
    }
    s.shape.push_back(-1);  // the batch dimension Triton leaves out of dims, or the leading 1
    for (int i = batched ? 0 : 1; i < t.dims_size(); ++i) {
      const int64_t d = t.dims(i);
      if (d < 1) {
        return InvalidArgument(std::string(what) + " '" + s.name +
                               "' has a dim below 1 (variable dims are not served)");
      }
      s.shape.push_back(d);
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The numeric sub-folders of `folder`, ascending.
std::vector<int64_t> VersionFolders(const std::string& folder) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const std::string n = e.path().filename().string();
    if (!e.is_directory() || n.empty() || n.size() > 18 ||
        !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    out.push_back(std::stoll(n));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The versions the policy selects among those present (default: the latest one).
Result<std::vector<int64_t>> SelectVersions(const pb::ModelVersionPolicy& p,
                                            const std::vector<int64_t>& present) {
  if (present.empty()) return InvalidArgument("no numeric version folder (e.g. 1/)");
  switch (p.policy_choice_case()) {
    case pb::ModelVersionPolicy::kAll:
      return present;
    case pb::ModelVersionPolicy::kSpecific: {
      std::vector<int64_t> out;
      for (int64_t v : p.specific().versions()) {
        if (!std::binary_search(present.begin(), present.end(), v)) {
          return InvalidArgument("version_policy names version " + std::to_string(v) +
                                 ", which has no folder");
        }
        out.push_back(v);
      }
      if (out.empty()) return InvalidArgument("version_policy specific lists no version");
      std::sort(out.begin(), out.end());
      return out;
    }
    case pb::ModelVersionPolicy::kLatest:
    case pb::ModelVersionPolicy::POLICY_CHOICE_NOT_SET: {
      const size_t n =
          p.has_latest() && p.latest().num_versions() > 0 ? p.latest().num_versions() : 1;
      const size_t skip = present.size() > n ? present.size() - n : 0;
      return std::vector<int64_t>(present.begin() + static_cast<std::ptrdiff_t>(skip),
                                  present.end());
    }
  }
  return InvalidArgument("unknown version_policy");
}

// dynamic_batching becomes the "batching" section; without it Triton runs each request alone,
// so Batchwise does too (policy fixed, batch size 1).
Result<std::string> BatchingSection(const pb::ModelConfig& m) {
  if (m.max_batch_size() == 0 && m.has_dynamic_batching()) {
    return InvalidArgument("dynamic_batching needs max_batch_size >= 1 (0: no batch dimension, "
                           "each request runs alone)");
  }
  if (!m.has_dynamic_batching()) {
    return nlohmann::json{{"policy", "fixed"}, {"batch_size", 1}}.dump();
  }
  const auto& d = m.dynamic_batching();
  nlohmann::json j = nlohmann::json::object();
  if (d.max_queue_delay_microseconds() > 0) {
    j["max_queue_delay_micros"] = d.max_queue_delay_microseconds();
  }
  if (!d.preferred_batch_size().empty()) {
    const auto [lo, hi] =
        std::minmax_element(d.preferred_batch_size().begin(), d.preferred_batch_size().end());
    if (*lo < 1 || *hi > m.max_batch_size()) {
      return InvalidArgument("dynamic_batching.preferred_batch_size must lie in [1, " +
                             std::to_string(m.max_batch_size()) + "]");
    }
    j["min_batch_size"] = *lo;
    j["initial_batch_size"] = *hi;
  }
  return j.dump();
}

// instance_group: one group of count 1 (Batchwise runs one instance per model); its kind
// constrains placement.
Result<std::vector<std::string>> ProcessorKinds(const pb::ModelConfig& m) {
  if (m.instance_group().empty()) return std::vector<std::string>{};
  if (m.instance_group_size() > 1) {
    return InvalidArgument("instance_group: Batchwise serves one instance per model, so one group");
  }
  const auto& g = m.instance_group(0);
  if (g.count() > 1) {
    return InvalidArgument("instance_group.count " + std::to_string(g.count()) +
                           ": Batchwise serves one instance per model (count 1)");
  }
  switch (g.kind()) {
    case pb::ModelInstanceGroup::KIND_CPU:
      return std::vector<std::string>{"cpu"};
    case pb::ModelInstanceGroup::KIND_GPU:
      return std::vector<std::string>{"gpu"};
    case pb::ModelInstanceGroup::KIND_AUTO:
      return std::vector<std::string>{};
    default:
      return InvalidArgument("instance_group.kind " +
                             pb::ModelInstanceGroup::Kind_Name(g.kind()) + " is not served");
  }
}

Result<ModelConfig> ToModelConfig(const pb::ModelConfig& m, const std::string& folder) {
  ModelConfig c;
  c.folder = folder;
  c.name = m.name().empty() ? fs::path(folder).filename().string() : m.name();
  c.kind = "triton";
  if (m.max_batch_size() < 0) {
    return InvalidArgument("max_batch_size " + std::to_string(m.max_batch_size()) +
                           " is below 0");
  }
  // 0: no batch dimension; each request runs alone, as a batch of 1.
  c.batch_dimension = m.max_batch_size() > 0;
  c.max_batch_size = std::max(m.max_batch_size(), 1);
  BW_ASSIGN_OR_RETURN(c.inputs, ToSpecs(m.input(), "input", c.batch_dimension));
  BW_ASSIGN_OR_RETURN(c.outputs, ToSpecs(m.output(), "output", c.batch_dimension));
  BW_ASSIGN_OR_RETURN(EngineChoice engine, ChooseEngine(m));
  BW_ASSIGN_OR_RETURN(std::vector<int64_t> selected,
                      SelectVersions(m.version_policy(), VersionFolders(folder)));
  const std::string file =
      m.default_model_filename().empty() ? engine.default_file : m.default_model_filename();
  // One instance per model: the highest selected version serves.
  c.version = selected.back();
  c.versions = selected;
  const fs::path path = fs::path(folder) / std::to_string(c.version) / file;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return InvalidArgument("version " + std::to_string(c.version) + " has no " + file);
  }
  c.engines.push_back({engine.engine, path.lexically_normal().string()});
  BW_ASSIGN_OR_RETURN(c.batching_json, BatchingSection(m));
  BW_ASSIGN_OR_RETURN(c.processor_kinds, ProcessorKinds(m));
  return c;
}

}  // namespace

Result<ModelConfig> ParseTritonConfigText(const std::string& text, const std::string& folder,
                                          const std::string& file) {
  pb::ModelConfig m;
  FirstError errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &m)) {
    return InvalidArgument(file + ": " +
                           (errors.error().empty() ? "not valid text format" : errors.error()));
  }
  auto c = ToModelConfig(m, folder);
  if (!c.ok()) return c.status().WithContext(file);
  return c;
}

Result<ModelConfig> ParseTritonConfigJson(const std::string& json_text,
                                          const std::string& folder) {
  pb::ModelConfig m;
  auto s = google::protobuf::util::JsonStringToMessage(json_text, &m);
  if (!s.ok()) return InvalidArgument("parameters.config: " + std::string(s.message()));
  auto c = ToModelConfig(m, folder);
  if (!c.ok()) return c.status().WithContext("parameters.config");
  return c;
}

Result<ModelConfig> LoadModelConfigFromJson(const std::string& folder,
                                            const std::string& json_text) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return NotFound("no model folder " + folder);
  BW_ASSIGN_OR_RETURN(ModelConfig c, ParseTritonConfigJson(json_text, folder));
  if (c.name != fs::path(folder).filename().string()) {
    return InvalidArgument("parameters.config: name '" + c.name + "' differs from the model's");
  }
  return c;
}

}  // namespace batchwise
