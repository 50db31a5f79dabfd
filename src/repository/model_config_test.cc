#include "repository/model_config.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace batchwise
