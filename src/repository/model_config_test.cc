#include "repository/model_config.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend/testing/model_repo.h"

namespace batchwise {
namespace {

nlohmann::json Config() {
  return nlohmann::json::parse(R"({
    "name": "mlp", "kind": "pv_forecast", "max_batch_size": 32,
    "inputs": [{"name": "features", "datatype": "FP32", "shape": [-1, 48]}],
    "outputs": [{"name": "forecast", "datatype": "FP32", "shape": [-1, 24]}],
    "engines": {"onnx": {"file": "model.onnx"}, "torchscript": {"file": "model.pt"}},
    "processor_kinds": ["cpu"], "latency_target_ms": 20,
    "batching": {"policy": "trend"}
  })");
}

TEST(ModelConfigTest, ParsesEveryField) {
  auto c = ParseModelConfig(Config(), "/repo/mlp");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "mlp");
  EXPECT_EQ(c->max_batch_size, 32);
  EXPECT_EQ(c->inputs[0].shape, (Shape{-1, 48}));
  EXPECT_EQ(c->outputs[0].dtype, DataType::kFp32);
  ASSERT_EQ(c->engines.size(), 2u);
  EXPECT_EQ(c->engines[0].engine, EngineKind::kTorchScript);  // default preference
  EXPECT_EQ(c->engines[1].path, "/repo/mlp/model.onnx");
  EXPECT_EQ(c->processor_kinds, std::vector<std::string>{"cpu"});
  EXPECT_DOUBLE_EQ(c->latency_target_ms, 20);
  EXPECT_EQ(nlohmann::json::parse(c->batching_json)["policy"], "trend");
  EXPECT_NE(c->FindEngine(EngineKind::kOnnx), nullptr);
  EXPECT_EQ(c->FindEngine(EngineKind::kSimulated), nullptr);
}

TEST(ModelConfigTest, EnginePreferenceOrdersEngines) {
  auto j = Config();
  j["engine_preference"] = {"onnx", "torchscript"};
  auto c = ParseModelConfig(j, "/repo/mlp");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->engines[0].engine, EngineKind::kOnnx);
}

TEST(ModelConfigTest, TorchScriptMayOptOutOfOptimizeForInference) {
  auto c = ParseModelConfig(Config(), "/repo/mlp");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->FindEngine(EngineKind::kTorchScript)->optimize_for_inference);  // default
  auto j = Config();
  j["engines"]["torchscript"]["optimize_for_inference"] = false;
  c = ParseModelConfig(j, "/repo/mlp");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->FindEngine(EngineKind::kTorchScript)->optimize_for_inference);
  j["engines"]["torchscript"]["optimize_for_inference"] = "no";
  EXPECT_EQ(ParseModelConfig(j, "/r").status().message(),
            "engines.torchscript.optimize_for_inference must be true or false");
  j = Config();
  j["engines"]["onnx"]["optimize_for_inference"] = false;  // a TorchScript-only key
  EXPECT_EQ(ParseModelConfig(j, "/r").status().message(),
            "engines.onnx has unknown key 'optimize_for_inference'");
}

TEST(ModelConfigTest, RejectsBadConfigsWithAReason) {
  auto j = Config();
  j["inputs"][0]["shape"] = {1, 48};
  EXPECT_NE(ParseModelConfig(j, "/r").status().message().find("batch dimension -1"),
            std::string::npos);
  j = Config();
  j["inputs"][0]["datatype"] = "FLOAT";
  EXPECT_EQ(ParseModelConfig(j, "/r").status().code(), StatusCode::kInvalidArgument);
  j = Config();
  j.erase("outputs");
  EXPECT_FALSE(ParseModelConfig(j, "/r").ok());
  j = Config();
  j["engines"] = {{"tensorrt", {{"file", "x"}}}};
  EXPECT_FALSE(ParseModelConfig(j, "/r").ok());
  j = Config();
  j["max_batch_size"] = 0;
  EXPECT_FALSE(ParseModelConfig(j, "/r").ok());
}

// Sets j[path...] = value in a valid config and expects INVALID_ARGUMENT whose message has `says`.
void ExpectConfigRejected(const nlohmann::json::json_pointer& where, nlohmann::json value,
                          const std::string& says) {
  auto j = Config();
  j[where] = std::move(value);
  Status s = ParseModelConfig(j, "/r").status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << where;
  EXPECT_NE(s.message().find(says), std::string::npos) << where << ": " << s;
}

TEST(ModelConfigTest, RejectsUnknownKeysAtEveryLevelNamingTheKey) {
  using P = nlohmann::json::json_pointer;
  ExpectConfigRejected(P("/max_batch_sise"), 8, "config has unknown key 'max_batch_sise'");
  ExpectConfigRejected(P("/dynamic_batching"), nlohmann::json::object(),
                       "unknown key 'dynamic_batching'");
  ExpectConfigRejected(P("/inputs/0/dims"), {48}, "inputs[0] has unknown key 'dims'");
  ExpectConfigRejected(P("/outputs/0/label_filename"), "l.txt",
                       "outputs[0] has unknown key 'label_filename'");
  ExpectConfigRejected(P("/engines/onnx/path"), "m.onnx", "engines.onnx has unknown key 'path'");
  ExpectConfigRejected(P("/engines/onxx"), {{"file", "m.onnx"}}, "unknown engine 'onxx'");
  ExpectConfigRejected(P("/engine_preference"), {"onnx", "tensorrt"}, "unknown engine 'tensorrt'");
}

TEST(ModelConfigTest, RejectsWrongTypesNamingTheKey) {
  using P = nlohmann::json::json_pointer;
  ExpectConfigRejected(P("/latency_target_ms"), "20", "latency_target_ms must be a number");
  ExpectConfigRejected(P("/max_batch_size"), 8.5, "max_batch_size must be an integer");
  ExpectConfigRejected(P("/inputs/0"), "features", "inputs[0] must be an object");
}

TEST(ModelConfigTest, InformationalKeysAreAccepted) {
  auto j = Config();
  j["reference"] = "reference.json";
  j["generator"] = {{"tool", "tools/gen_models.py"}, {"anything", 1}};  // free-form provenance
  j["engine_preference"] = {"onnx"};
  EXPECT_TRUE(ParseModelConfig(j, "/r").ok());
}

nlohmann::json ClassifierConfig() {
  return nlohmann::json::parse(R"({
    "name": "cls", "max_batch_size": 8,
    "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}],
    "outputs": [{"name": "logits", "datatype": "FP32", "shape": [-1, 1000]}],
    "engines": {"onnx": {"file": "model.onnx"}},
    "preprocess": {"type": "image", "input": "input", "accept": ["UINT8"],
                   "resize": [224, 224], "resize_shorter": 256, "interpolation": "area",
                   "channel_order": "BGR", "scale": 0.5,
                   "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    "postprocess": {"type": "classification", "output": "top", "source": "logits", "top_k": 3}
  })");
}

TEST(ModelConfigTest, ParsesPreprocessAndPostprocess) {
  auto c = ParseModelConfig(ClassifierConfig(), "/r");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->preprocess.has_value());
  const ImagePreprocess& p = *c->preprocess;
  EXPECT_EQ(p.input, "input");
  EXPECT_EQ(p.accept, std::vector<DataType>{DataType::kUint8});
  EXPECT_TRUE(p.Accepts(DataType::kUint8));
  EXPECT_FALSE(p.Accepts(DataType::kBytes));
  EXPECT_EQ(p.height, 224);
  EXPECT_EQ(p.width, 224);
  EXPECT_EQ(p.resize, ImagePreprocess::Resize::kShorterSideCrop);
  EXPECT_EQ(p.resize_shorter, 256);
  EXPECT_EQ(p.interpolation, ImagePreprocess::Interpolation::kArea);
  EXPECT_EQ(p.channel_order, ImagePreprocess::ChannelOrder::kBgr);
  EXPECT_FLOAT_EQ(p.scale, 0.5f);
  EXPECT_FLOAT_EQ(p.mean[1], 0.456f);
  EXPECT_FLOAT_EQ(p.stddev[2], 0.225f);
  ASSERT_TRUE(c->postprocess.has_value());
  EXPECT_EQ(c->postprocess->output, "top");
  EXPECT_EQ(c->postprocess->source, "logits");
  EXPECT_EQ(c->postprocess->top_k, 3);
}

TEST(ModelConfigTest, ProcessingSectionsHaveDocumentedDefaults) {
  auto j = ClassifierConfig();
  j["preprocess"] = {{"type", "image"}};
  j["postprocess"] = {{"type", "classification"}};
  auto c = ParseModelConfig(j, "/r");
  ASSERT_TRUE(c.ok()) << c.status();
  const ImagePreprocess& p = *c->preprocess;
  EXPECT_EQ(p.input, "input");  // the only input
  EXPECT_EQ(p.accept, (std::vector<DataType>{DataType::kUint8, DataType::kBytes}));
  EXPECT_EQ(p.height, 224);  // from the input's shape
  EXPECT_EQ(p.resize, ImagePreprocess::Resize::kStretch);
  EXPECT_EQ(p.interpolation, ImagePreprocess::Interpolation::kBilinear);
  EXPECT_EQ(p.channel_order, ImagePreprocess::ChannelOrder::kRgb);
  EXPECT_FLOAT_EQ(p.scale, 1.0f / 255);
  EXPECT_EQ(p.mean, (std::array<float, 3>{0, 0, 0}));
  EXPECT_EQ(p.stddev, (std::array<float, 3>{1, 1, 1}));
  EXPECT_EQ(c->postprocess->output, "classification");
  EXPECT_EQ(c->postprocess->source, "logits");
  EXPECT_EQ(c->postprocess->top_k, 5);
  EXPECT_FALSE(ParseModelConfig(Config(), "/r")->preprocess.has_value());
}

// Sets `key` of `section` in a valid classifier config and expects a parse error naming `says`.
void ExpectRejected(const std::string& section, const std::string& key, nlohmann::json value,
                    const std::string& says) {
  auto j = ClassifierConfig();
  j[section][key] = std::move(value);
  Status s = ParseModelConfig(j, "/r").status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << section << "." << key;
  EXPECT_NE(s.message().find(section + ": "), std::string::npos) << s;
  EXPECT_NE(s.message().find(says), std::string::npos) << s;
}

TEST(ModelConfigTest, RejectsBadProcessingSectionsWithAReason) {
  ExpectRejected("preprocess", "type", "audio", "\"type\": \"image\"");
  ExpectRejected("preprocess", "mena", 1, "unknown key 'mena'");
  ExpectRejected("preprocess", "input", "x", "'x' is not a declared input");
  ExpectRejected("preprocess", "accept", {"FP32"}, "only UINT8 and BYTES");
  ExpectRejected("preprocess", "accept", nlohmann::json::array(), "UINT8, BYTES or both");
  ExpectRejected("preprocess", "resize", {256, 256}, "differs from input 'input'");
  ExpectRejected("preprocess", "resize_shorter", 200, "resize_shorter must be >= 224");
  ExpectRejected("preprocess", "interpolation", "cubic", "not one of bilinear, nearest, area");
  ExpectRejected("preprocess", "channel_order", "RGBA", "not one of RGB, BGR");
  ExpectRejected("preprocess", "std", {0.2, 0.0, 0.2}, "std values must be > 0");
  ExpectRejected("preprocess", "mean", {0.5, 0.5}, "mean must be 3 numbers");
  ExpectRejected("preprocess", "scale", 0, "scale must be > 0");
  ExpectRejected("postprocess", "type", "segmentation",
                 "\"type\": \"classification\" or \"detection\"");
  ExpectRejected("postprocess", "top_k", 1001, "top_k must be in [1, 1000]");
  ExpectRejected("postprocess", "output", "logits", "clashes with a declared tensor");
  ExpectRejected("postprocess", "source", "probs", "'probs' is not a declared output");
  auto mlp = Config();  // a [-1,48] input cannot take images
  mlp["preprocess"] = {{"type", "image"}};
  EXPECT_NE(ParseModelConfig(mlp, "/r").status().message().find("must be FP32 [-1,3,H,W]"),
            std::string::npos);
}

nlohmann::json DetectorConfig() {
  return nlohmann::json::parse(R"({
    "name": "det", "max_batch_size": 4,
    "inputs": [{"name": "images", "datatype": "FP32", "shape": [-1, 3, 320, 320]}],
    "outputs": [{"name": "boxes", "datatype": "FP32", "shape": [-1, 100, 4]},
                {"name": "scores", "datatype": "FP32", "shape": [-1, 100]},
                {"name": "labels", "datatype": "INT32", "shape": [-1, 100]},
                {"name": "num_detections", "datatype": "INT32", "shape": [-1]}],
    "engines": {"torchscript": {"file": "model.pt", "optimize_for_inference": false}},
    "preprocess": {"type": "image", "resize": "letterbox", "pad_value": 114},
    "postprocess": {"type": "detection", "score_threshold": 0.4, "max_detections": 20}
  })");
}

TEST(ModelConfigTest, ParsesLetterboxAndDetectionSections) {
  const std::string folder = ::testing::TempDir() + "/bw_detector_config";
  std::filesystem::create_directories(folder);
  std::ofstream(folder + "/classes.txt") << "__background__\r\ninsulator\ndamper\n";
  auto j = DetectorConfig();
  j["postprocess"]["class_names"] = "classes.txt";
  auto c = ParseModelConfig(j, folder);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->preprocess->resize, ImagePreprocess::Resize::kLetterbox);
  EXPECT_EQ(c->preprocess->pad_value, 114);
  ASSERT_TRUE(c->detection.has_value());
  EXPECT_FALSE(c->postprocess.has_value());
  EXPECT_FLOAT_EQ(c->detection->score_threshold, 0.4f);
  EXPECT_EQ(c->detection->max_detections, 20);
  EXPECT_EQ(c->detection->class_names,
            (std::vector<std::string>{"__background__", "insulator", "damper"}));
  j["preprocess"]["resize"] = "plain";
  j["preprocess"].erase("pad_value");
  j["postprocess"] = {{"type", "detection"}};
  c = ParseModelConfig(j, folder);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->preprocess->resize, ImagePreprocess::Resize::kStretch);
  EXPECT_EQ(c->detection->max_detections, 100);  // K
  EXPECT_EQ(c->detection->score_threshold, 0);
  EXPECT_TRUE(c->detection->class_names.empty());
}

TEST(ModelConfigTest, RejectsDetectionSectionsThatDoNotFitTheOutputs) {
  auto expect = [](nlohmann::json j, const std::string& says) {
    Status s = ParseModelConfig(j, "/r").status();
    EXPECT_NE(s.message().find(says), std::string::npos) << s;
  };
  auto j = DetectorConfig();
  j["outputs"][1]["shape"] = {-1, 50};
  expect(j, "output 'scores' is FP32 [-1,50]; detections are boxes FP32 [-1,K,4]");
  j = DetectorConfig();
  j["outputs"][3]["datatype"] = "FP32";
  expect(j, "output 'num_detections' is FP32 [-1]");
  j = DetectorConfig();
  j["postprocess"]["max_detections"] = 101;
  expect(j, "max_detections must be in [1, 100]");
  j = DetectorConfig();
  j["postprocess"]["boxes"] = "bbox";
  expect(j, "'bbox' is not a declared output");
  j = DetectorConfig();
  j["postprocess"]["class_names"] = "missing.txt";
  expect(j, "cannot read class_names file /r/missing.txt");
  j = DetectorConfig();
  j["preprocess"]["resize"] = "crop";
  expect(j, "resize 'crop' is not one of plain, letterbox");
  j = DetectorConfig();
  j["preprocess"]["resize"] = "plain";
  expect(j, "pad_value needs \"resize\": \"letterbox\"");
}

TEST(ModelConfigTest, CheckShapeExplainsMismatches) {
  auto c = ParseModelConfig(Config(), "/r").value();
  EXPECT_TRUE(c.CheckShape(c.inputs[0], {4, 48}).ok());
  EXPECT_NE(c.CheckShape(c.inputs[0], {4, 47}).message().find("expects [-1,48]"),
            std::string::npos);
  EXPECT_NE(c.CheckShape(c.inputs[0], {33, 48}).message().find("max_batch_size 32"),
            std::string::npos);
  EXPECT_FALSE(c.CheckShape(c.inputs[0], {0, 48}).ok());
  EXPECT_FALSE(c.CheckShape(c.inputs[0], {48}).ok());
}

TEST(ModelConfigTest, LoadsFromAFolderAndListsTheRepository) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("bw_repo_" + std::to_string(::getpid()));
  fs::create_directories(root / "mlp");
  fs::create_directories(root / "not_a_model");
  std::ofstream(root / "mlp" / "config.json") << Config().dump();
  auto folders = ListModelFolders(root.string());
  ASSERT_TRUE(folders.ok());
  ASSERT_EQ(folders->size(), 1u);
  auto c = LoadModelConfig((*folders)[0]);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->engines[0].path, (root / "mlp" / "model.pt").string());
  fs::create_directories(root / "other");
  std::ofstream(root / "other" / "config.json") << Config().dump();  // name "mlp" != "other"
  EXPECT_NE(LoadModelConfig((root / "other").string()).status().message().find("folder name"),
            std::string::npos);
  std::ofstream(root / "other" / "config.json") << "{ not json";
  EXPECT_EQ(LoadModelConfig((root / "other").string()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ListModelFolders("/nonexistent").status().code(), StatusCode::kNotFound);
  fs::remove_all(root);
}

TEST(ModelConfigTest, EveryGeneratedModelLoadsUnderStrictKeys) {
  auto folders = ListModelFolders(testing::ModelsDir());
  if (!folders.ok() || folders->empty()) GTEST_SKIP() << testing::NoModelsMessage(folders.status());
  for (const std::string& folder : *folders) {
    auto c = LoadModelConfig(folder);
    EXPECT_TRUE(c.ok()) << c.status();
  }
}

}  // namespace
}  // namespace batchwise
