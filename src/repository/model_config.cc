#include "repository/model_config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "repository/triton_config.h"

namespace batchwise {
namespace fs = std::filesystem;
namespace {

using nlohmann::json;

// Rejects keys a section does not know (a typo must not silently fall back to a default).
Status CheckKeys(const json& j, const std::string& section,
                 std::initializer_list<const char*> known) {
  if (!j.is_object()) return InvalidArgument(section + " must be an object");
  for (const auto& [key, value] : j.items()) {
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return key == k; }) ==
        known.end()) {
      return InvalidArgument(section + " has unknown key '" + key + "'");
    }
  }
  return Status::Ok();
}

Result<std::vector<TensorSpec>> ParseSpecs(const nlohmann::json& arr, const char* what) {
  if (!arr.is_array() || arr.empty()) {
    return InvalidArgument(std::string("'") + what + "' must be a non-empty array");
  }
  std::vector<TensorSpec> specs;
  for (size_t i = 0; i < arr.size(); ++i) {
    const json& t = arr[i];
    BW_RETURN_IF_ERROR(CheckKeys(t, std::string(what) + "[" + std::to_string(i) + "]",
                                 {"name", "datatype", "shape"}));
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
  for (const auto& name : order) BW_RETURN_IF_ERROR(ParseEngineKind(name).status());
  const auto& engines = j.at("engines");
  if (!engines.is_object()) return InvalidArgument("'engines' must be an object");
  for (const auto& [name, engine] : engines.items()) {
    BW_RETURN_IF_ERROR(ParseEngineKind(name).status().WithContext("engines"));
    if (name == "torchscript") {
      BW_RETURN_IF_ERROR(CheckKeys(engine, "engines." + name, {"file", "optimize_for_inference"}));
      if (engine.contains("optimize_for_inference") &&
          !engine["optimize_for_inference"].is_boolean()) {
        return InvalidArgument("engines.torchscript.optimize_for_inference must be true or false");
      }
    } else {
      BW_RETURN_IF_ERROR(CheckKeys(engine, "engines." + name, {"file"}));
    }
  }
  std::vector<ModelEngineFile> out;
  for (const auto& name : order) {
    if (!engines.contains(name)) continue;
    ModelEngineFile f;
    BW_ASSIGN_OR_RETURN(f.engine, ParseEngineKind(name));
    fs::path p = engines[name].at("file").get<std::string>();
    f.path = (p.is_absolute() ? p : fs::path(folder) / p).lexically_normal().string();
    f.optimize_for_inference = engines[name].value("optimize_for_inference", true);
    out.push_back(std::move(f));
  }
  if (out.empty()) return InvalidArgument("'engines' names no known engine");
  return out;
}

// The value of j[key] among `choices` (by name); `out` unchanged when the key is absent.
template <typename T>
Status ReadChoice(const json& j, const std::string& key,
                  std::initializer_list<std::pair<const char*, T>> choices, T& out) {
  if (!j.contains(key)) return Status::Ok();
  const std::string v = j.at(key).get<std::string>();
  std::string names;
  for (const auto& [name, value] : choices) {
    if (v == name) {
      out = value;
      return Status::Ok();
    }
    names += names.empty() ? name : std::string(", ") + name;
  }
  return InvalidArgument(key + " '" + v + "' is not one of " + names);
}

// Three numbers (one per channel) into `out`; each must be > 0 when `positive`.
Status ReadTriple(const json& j, const std::string& key, bool positive, std::array<float, 3>& out) {
  if (!j.contains(key)) return Status::Ok();
  const json& a = j.at(key);
  if (!a.is_array() || a.size() != 3) return InvalidArgument(key + " must be 3 numbers");
  for (size_t c = 0; c < 3; ++c) {
    out[c] = a[c].get<float>();
    if (positive && !(out[c] > 0)) return InvalidArgument(key + " values must be > 0");
  }
  return Status::Ok();
}

// The spec named by j[key], or the only spec when the key is absent.
Result<const TensorSpec*> NamedOrOnly(const json& j, const char* key,
                                      const std::vector<TensorSpec>& specs, const char* what) {
  if (!j.contains(key)) {
    if (specs.size() != 1) {
      return InvalidArgument(std::string(key) + " is needed: the model has several " + what + "s");
    }
    return &specs[0];
  }
  const std::string name = j.at(key).get<std::string>();
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return InvalidArgument(std::string(key) + " '" + name + "' is not a declared " + what);
}

Status ReadAccept(const json& j, ImagePreprocess& p) {
  if (!j.contains("accept")) return Status::Ok();
  p.accept.clear();
  for (const auto& v : j.at("accept")) {
    BW_ASSIGN_OR_RETURN(DataType t, ParseDataType(v.get<std::string>()));
    if (t != DataType::kUint8 && t != DataType::kBytes) {
      return InvalidArgument("accept lists " + v.get<std::string>() + "; only UINT8 and BYTES");
    }
    p.accept.push_back(t);
  }
  if (p.accept.empty()) return InvalidArgument("accept must name UINT8, BYTES or both");
  return Status::Ok();
}

// Output size from the input's shape; "resize" and "resize_shorter" must agree with it.
Status ReadGeometry(const json& j, const TensorSpec& spec, ImagePreprocess& p) {
  if (spec.dtype != DataType::kFp32 || spec.shape.size() != 4 || spec.shape[1] != 3) {
    return InvalidArgument("input '" + spec.name + "' must be FP32 [-1,3,H,W] to take images");
  }
  p.height = static_cast<int>(spec.shape[2]);
  p.width = static_cast<int>(spec.shape[3]);
  using R = ImagePreprocess::Resize;
  if (j.contains("resize") && j.at("resize").is_string()) {
    BW_RETURN_IF_ERROR(
        ReadChoice<R>(j, "resize", {{"plain", R::kStretch}, {"letterbox", R::kLetterbox}}, p.resize));
  } else if (j.contains("resize") &&
             j.at("resize").get<std::vector<int>>() != std::vector<int>{p.height, p.width}) {
    return InvalidArgument("resize " + j.at("resize").dump() + " differs from input '" + spec.name +
                           "' " + ShapeToString(spec.shape));
  }
  p.pad_value = j.value("pad_value", p.pad_value);
  if (p.pad_value < 0 || p.pad_value > 255) return InvalidArgument("pad_value must be in [0, 255]");
  if (j.contains("pad_value") && p.resize != R::kLetterbox) {
    return InvalidArgument("pad_value needs \"resize\": \"letterbox\"");
  }
  if (!j.contains("resize_shorter")) return Status::Ok();
  if (p.resize == R::kLetterbox) {
    return InvalidArgument("resize_shorter (center crop) and letterbox exclude each other");
  }
  p.resize = ImagePreprocess::Resize::kShorterSideCrop;
  p.resize_shorter = j.at("resize_shorter").get<int>();
  if (p.resize_shorter < std::max(p.height, p.width)) {
    return InvalidArgument(
        "resize_shorter must be >= " + std::to_string(std::max(p.height, p.width)) +
        " so the center crop fits");
  }
  return Status::Ok();
}

Result<ImagePreprocess> ParsePreprocess(const json& j, const ModelConfig& c) {
  if (!j.is_object() || j.value("type", "") != "image") {
    return InvalidArgument("must be an object with \"type\": \"image\"");
  }
  BW_RETURN_IF_ERROR(CheckKeys(j, "preprocess",
                               {"type", "input", "accept", "resize", "resize_shorter", "pad_value",
                                "interpolation", "channel_order", "mean", "std", "scale"}));
  ImagePreprocess p;
  BW_ASSIGN_OR_RETURN(const TensorSpec* spec, NamedOrOnly(j, "input", c.inputs, "input"));
  p.input = spec->name;
  BW_RETURN_IF_ERROR(ReadAccept(j, p));
  BW_RETURN_IF_ERROR(ReadGeometry(j, *spec, p));
  using I = ImagePreprocess::Interpolation;
  BW_RETURN_IF_ERROR(ReadChoice<I>(
      j, "interpolation",
      {{"bilinear", I::kBilinear}, {"nearest", I::kNearest}, {"area", I::kArea}}, p.interpolation));
  using C = ImagePreprocess::ChannelOrder;
  BW_RETURN_IF_ERROR(
      ReadChoice<C>(j, "channel_order", {{"RGB", C::kRgb}, {"BGR", C::kBgr}}, p.channel_order));
  p.scale = j.value("scale", p.scale);
  if (!(p.scale > 0)) return InvalidArgument("scale must be > 0");
  BW_RETURN_IF_ERROR(ReadTriple(j, "mean", /*positive=*/false, p.mean));
  BW_RETURN_IF_ERROR(ReadTriple(j, "std", /*positive=*/true, p.stddev));
  return p;
}

Result<ClassificationPostprocess> ParsePostprocess(const json& j, const ModelConfig& c) {
  if (!j.is_object() || j.value("type", "") != "classification") {
    return InvalidArgument("must be an object with \"type\": \"classification\" or "
                           "\"detection\"");
  }
  BW_RETURN_IF_ERROR(CheckKeys(j, "postprocess", {"type", "output", "source", "top_k"}));
  ClassificationPostprocess p;
  p.output = j.value("output", p.output);
  if (c.OutputIndex(p.output) >= 0 || c.InputIndex(p.output) >= 0) {
    return InvalidArgument("output '" + p.output + "' clashes with a declared tensor");
  }
  BW_ASSIGN_OR_RETURN(const TensorSpec* source, NamedOrOnly(j, "source", c.outputs, "output"));
  p.source = source->name;
  if (source->dtype != DataType::kFp32 || source->shape.size() != 2) {
    return InvalidArgument("source '" + p.source + "' must be FP32 [-1,classes]");
  }
  p.top_k = j.value("top_k", p.top_k);
  if (p.top_k < 1 || p.top_k > source->shape[1]) {
    return InvalidArgument("top_k must be in [1, " + std::to_string(source->shape[1]) + "]");
  }
  return p;
}

// The declared output `name` of a detection section, with `rank` dims (batch included) and one of
// `dtypes`; K (its dim 1) must equal `k` when k > 0.
Result<const TensorSpec*> DetectionOutput(const ModelConfig& c, const std::string& name, size_t rank,
                                          std::initializer_list<DataType> dtypes, int64_t k) {
  const int i = c.OutputIndex(name);
  if (i < 0) return InvalidArgument("'" + name + "' is not a declared output");
  const TensorSpec& s = c.outputs[i];
  const bool dtype_ok = std::find(dtypes.begin(), dtypes.end(), s.dtype) != dtypes.end();
  if (!dtype_ok || s.shape.size() != rank || (k > 0 && s.shape[1] != k)) {
    return InvalidArgument("output '" + name + "' is " + std::string(DataTypeName(s.dtype)) + " " +
                           ShapeToString(s.shape) +
                           "; detections are boxes FP32 [-1,K,4], scores FP32 [-1,K], labels "
                           "INT32 or INT64 [-1,K], num_detections INT32 [-1]");
  }
  return &s;
}

// One class name per line (a trailing '\r' dropped); line i names label i.
Result<std::vector<std::string>> ReadClassNames(const std::string& folder, const std::string& file) {
  const fs::path path = fs::path(folder) / file;
  std::ifstream in(path);
  if (!in) return NotFound("cannot read class_names file " + path.string());
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  return names;
}

Result<DetectionPostprocess> ParseDetection(const json& j, const ModelConfig& c) {
  BW_RETURN_IF_ERROR(CheckKeys(j, "postprocess",
                               {"type", "boxes", "scores", "labels", "num_detections",
                                "score_threshold", "max_detections", "class_names",
                                "label_names_output"}));
  DetectionPostprocess p;
  p.boxes = j.value("boxes", p.boxes);
  p.scores = j.value("scores", p.scores);
  p.labels = j.value("labels", p.labels);
  p.num_detections = j.value("num_detections", p.num_detections);
  BW_ASSIGN_OR_RETURN(const TensorSpec* boxes, DetectionOutput(c, p.boxes, 3, {DataType::kFp32}, 0));
  const int64_t k = boxes->shape[1];
  if (boxes->shape[2] != 4) return InvalidArgument("output '" + p.boxes + "' must be [-1,K,4]");
  BW_RETURN_IF_ERROR(DetectionOutput(c, p.scores, 2, {DataType::kFp32}, k).status());
  BW_RETURN_IF_ERROR(
      DetectionOutput(c, p.labels, 2, {DataType::kInt32, DataType::kInt64}, k).status());
  BW_RETURN_IF_ERROR(DetectionOutput(c, p.num_detections, 1, {DataType::kInt32}, 0).status());
  p.score_threshold = j.value("score_threshold", p.score_threshold);
  p.max_detections = j.value("max_detections", static_cast<int>(k));
  if (p.max_detections < 1 || p.max_detections > k) {
    return InvalidArgument("max_detections must be in [1, " + std::to_string(k) + "]");
  }
  p.label_names_output = j.value("label_names_output", p.label_names_output);
  if (c.OutputIndex(p.label_names_output) >= 0 || c.InputIndex(p.label_names_output) >= 0) {
    return InvalidArgument("output '" + p.label_names_output + "' clashes with a declared tensor");
  }
  if (j.contains("class_names")) {
    BW_ASSIGN_OR_RETURN(p.class_names,
                        ReadClassNames(c.folder, j.at("class_names").get<std::string>()));
  }
  return p;
}

// Parses the optional "preprocess" and "postprocess" sections into `c`; errors name the section.
Status ParseProcessing(const json& j, ModelConfig& c) {
  if (j.contains("preprocess")) {
    auto p = ParsePreprocess(j.at("preprocess"), c);
    if (!p.ok()) return p.status().WithContext("preprocess");
    c.preprocess = std::move(p).value();
  }
  if (j.contains("postprocess") && j.at("postprocess").is_object() &&
      j.at("postprocess").value("type", "") == "detection") {
    auto p = ParseDetection(j.at("postprocess"), c);
    if (!p.ok()) return p.status().WithContext("postprocess");
    c.detection = std::move(p).value();
  } else if (j.contains("postprocess")) {
    auto p = ParsePostprocess(j.at("postprocess"), c);
    if (!p.ok()) return p.status().WithContext("postprocess");
    c.postprocess = std::move(p).value();
  }
  return Status::Ok();
}

}  // namespace

bool ImagePreprocess::Accepts(DataType t) const {
  return std::find(accept.begin(), accept.end(), t) != accept.end();
}

int ModelConfig::InputIndex(const std::string& input_name) const {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].name == input_name) return static_cast<int>(i);
  }
  return -1;
}

int ModelConfig::OutputIndex(const std::string& output_name) const {
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].name == output_name) return static_cast<int>(i);
  }
  return -1;
}

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
  if (!batch_dimension && shape[0] != 1) {
    Shape full = spec.shape;
    full[0] = 1;
    return InvalidArgument("input '" + spec.name + "' has shape " + ShapeToString(shape) +
                           ", model '" + name + "' has no batch dimension (max_batch_size 0) " +
                           "and takes " + ShapeToString(full));
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
    // "reference" and "generator" are informational (not read here); "generator" is free-form.
    BW_RETURN_IF_ERROR(
        CheckKeys(j, "config",
                  {"name", "kind", "max_batch_size", "inputs", "outputs", "engines",
                   "engine_preference", "processor_kinds", "latency_target_ms", "batching",
                   "preprocess", "postprocess", "reference", "generator"}));
    ModelConfig c;
    c.folder = folder;
    c.name = j.at("name").get<std::string>();
    c.kind = j.value("kind", "");
    if (j.contains("max_batch_size") && !j["max_batch_size"].is_number_integer()) {
      return InvalidArgument("max_batch_size must be an integer");
    }
    c.max_batch_size = j.value("max_batch_size", 1);
    if (c.max_batch_size < 1) return InvalidArgument("max_batch_size must be >= 1");
    BW_ASSIGN_OR_RETURN(c.inputs, ParseSpecs(j.at("inputs"), "inputs"));
    BW_ASSIGN_OR_RETURN(c.outputs, ParseSpecs(j.at("outputs"), "outputs"));
    BW_ASSIGN_OR_RETURN(c.engines, ParseEngines(j, folder));
    c.processor_kinds = j.value("processor_kinds", std::vector<std::string>{});
    if (j.contains("latency_target_ms") && !j["latency_target_ms"].is_number()) {
      return InvalidArgument("latency_target_ms must be a number");
    }
    c.latency_target_ms = j.value("latency_target_ms", 0.0);
    if (c.latency_target_ms < 0) return InvalidArgument("latency_target_ms must be >= 0");
    if (j.contains("batching")) c.batching_json = j["batching"].dump();
    BW_RETURN_IF_ERROR(ParseProcessing(j, c));
    return c;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("malformed model config: ") + e.what());
  }
}

Result<ModelConfig> LoadModelConfig(const std::string& folder) {
  std::string path = (fs::path(folder) / "config.json").string();
  const std::string pbtxt = (fs::path(folder) / "config.pbtxt").string();
  std::error_code ec;
  const bool has_json = fs::exists(path, ec);
  if (fs::exists(pbtxt, ec)) {
    if (has_json) {
      return InvalidArgument(folder + " holds both config.json and config.pbtxt; keep one");
    }
    path = pbtxt;
  }
  std::ifstream in(path);
  if (!in) return NotFound("no model config at " + path);
  Result<ModelConfig> c = NotFound(path);
  if (path == pbtxt) {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    c = ParseTritonConfigText(text, folder, path);
    if (!c.ok()) return c.status();
  } else {
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return InvalidArgument(path + ": not valid JSON");
    c = ParseModelConfig(j, folder);
    if (!c.ok()) return c.status().WithContext(path);
  }
  if (c->name != fs::path(folder).filename().string()) {
    return InvalidArgument(path + ": name '" + c->name + "' differs from its folder name");
  }
  return c;
}

bool IsModelFolder(const std::string& folder) {
  std::error_code ec;
  return fs::exists(fs::path(folder) / "config.json", ec) ||
         fs::exists(fs::path(folder) / "config.pbtxt", ec);
}

Result<std::vector<std::string>> ListModelFolders(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return NotFound("model repository " + root + " is not a folder");
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory() && IsModelFolder(entry.path().string())) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace batchwise
