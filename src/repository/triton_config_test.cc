#include "repository/triton_config.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace batchwise {
namespace {
namespace fs = std::filesystem;

constexpr const char* kConfig = R"(
name: "tmlp"
platform: "onnxruntime_onnx"
max_batch_size: 16
input [ { name: "features" data_type: TYPE_FP32 dims: [ 48 ] } ]
output [ { name: "forecast" data_type: TYPE_FP32 dims: [ 24 ] } ]
)";

// A Triton model folder <tmp>/repo/tmlp with version folders 1, 2 and 3, each holding model.onnx
// and model.pt (empty: the parser only checks that the file is there).
class TritonConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("bw_triton_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    folder_ = (root_ / "tmlp").string();
    for (const char* v : {"1", "2", "3"}) {
      fs::create_directories(fs::path(folder_) / v);
      std::ofstream(fs::path(folder_) / v / "model.onnx") << "x";
      std::ofstream(fs::path(folder_) / v / "model.pt") << "x";
    }
  }
  void TearDown() override { fs::remove_all(root_); }

  Result<ModelConfig> Parse(const std::string& extra, const std::string& base = kConfig) {
    return ParseTritonConfigText(base + extra, folder_, "tmlp/config.pbtxt");
  }
  void ExpectError(const std::string& extra, const std::string& fragment,
                   const std::string& base = kConfig) {
    auto c = Parse(extra, base);
    ASSERT_FALSE(c.ok()) << extra;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(fragment), std::string::npos) << c.status();
    EXPECT_NE(c.status().message().find("tmlp/config.pbtxt"), std::string::npos) << c.status();
  }

  fs::path root_;
  std::string folder_;
};

TEST_F(TritonConfigTest, ParsesEveryField) {
  auto c = Parse(R"(
    dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 500 }
    instance_group [ { count: 1 kind: KIND_CPU } ]
  )");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "tmlp");
  EXPECT_EQ(c->max_batch_size, 16);
  ASSERT_EQ(c->inputs.size(), 1u);
  EXPECT_EQ(c->inputs[0].name, "features");
  EXPECT_EQ(c->inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(c->inputs[0].shape, (Shape{-1, 48}));
  EXPECT_EQ(c->outputs[0].shape, (Shape{-1, 24}));
  ASSERT_EQ(c->engines.size(), 1u);
  EXPECT_EQ(c->engines[0].engine, EngineKind::kOnnx);
  EXPECT_EQ(c->engines[0].path, folder_ + "/3/model.onnx");
  EXPECT_EQ(c->version, 3);
  EXPECT_EQ(c->versions, std::vector<int64_t>{3});
  const auto b = nlohmann::json::parse(c->batching_json);
  EXPECT_EQ(b["max_queue_delay_micros"], 500);
  EXPECT_EQ(b["min_batch_size"], 4);
  EXPECT_EQ(b["initial_batch_size"], 8);
  EXPECT_EQ(c->processor_kinds, std::vector<std::string>{"cpu"});
}

TEST_F(TritonConfigTest, NameDefaultsToTheFolder) {
  std::string base = kConfig;
  base.erase(base.find("name: \"tmlp\""), 12);
  auto c = Parse("", base);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "tmlp");
}

TEST_F(TritonConfigTest, VersionPolicies) {
  auto latest2 = Parse("version_policy: { latest: { num_versions: 2 } }");
  ASSERT_TRUE(latest2.ok()) << latest2.status();
  EXPECT_EQ(latest2->versions, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(latest2->version, 3);
  auto all = Parse("version_policy: { all: {} }");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->versions, (std::vector<int64_t>{1, 2, 3}));
  auto specific = Parse("version_policy: { specific: { versions: [ 1 ] } }");
  ASSERT_TRUE(specific.ok()) << specific.status();
  EXPECT_EQ(specific->version, 1);
  EXPECT_EQ(specific->engines[0].path, folder_ + "/1/model.onnx");
  ExpectError("version_policy: { specific: { versions: [ 7 ] } }", "version 7");
  ExpectError("version_policy: { specific: {} }", "lists no version");
}

TEST_F(TritonConfigTest, NonNumericFoldersAreNotVersions) {
  fs::create_directories(fs::path(folder_) / "99abc");
  auto c = Parse("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version, 3);
  fs::remove_all(fs::path(folder_) / "1");
  fs::remove_all(fs::path(folder_) / "2");
  fs::remove_all(fs::path(folder_) / "3");
  ExpectError("", "no numeric version folder");
}

TEST_F(TritonConfigTest, MissingModelFileInTheServedVersion) {
  fs::remove(fs::path(folder_) / "3" / "model.onnx");
  ExpectError("", "version 3 has no model.onnx");
}

TEST_F(TritonConfigTest, PlatformsAndBackendsMapToEngines) {
  std::string base = kConfig;
  base.replace(base.find("platform: \"onnxruntime_onnx\""), 28, "platform: \"pytorch_libtorch\"");
  auto torch = Parse("", base);
  ASSERT_TRUE(torch.ok()) << torch.status();
  EXPECT_EQ(torch->engines[0].engine, EngineKind::kTorchScript);
  EXPECT_EQ(torch->engines[0].path, folder_ + "/3/model.pt");

  std::string no_platform = kConfig;
  no_platform.erase(no_platform.find("platform: \"onnxruntime_onnx\""), 28);
  auto by_backend = Parse("backend: \"pytorch\"", no_platform);
  ASSERT_TRUE(by_backend.ok()) << by_backend.status();
  EXPECT_EQ(by_backend->engines[0].engine, EngineKind::kTorchScript);
  auto onnx = Parse("backend: \"onnxruntime\"", no_platform);
  ASSERT_TRUE(onnx.ok()) << onnx.status();
  EXPECT_EQ(onnx->engines[0].engine, EngineKind::kOnnx);

  std::ofstream(fs::path(folder_) / "3" / "custom.onnx") << "x";
  auto named = Parse("default_model_filename: \"custom.onnx\"");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->engines[0].path, folder_ + "/3/custom.onnx");

  ExpectError("", "platform or backend is needed", no_platform);
  ExpectError("backend: \"tensorrt\"", "backend 'tensorrt' has no engine", no_platform);
  std::string trt = kConfig;
  trt.replace(trt.find("onnxruntime_onnx"), 16, "tensorrt_plan");
  ExpectError("", "platform 'tensorrt_plan' has no engine", trt);
  ExpectError("backend: \"pytorch\"", "disagree");
}

// max_batch_size 0: dims are full shapes starting with 1, that 1 the batch of a model that runs
// each request alone; other leading dims and dynamic_batching are refused with the reason.
TEST_F(TritonConfigTest, MaxBatchSizeZeroTakesFullShapesAndRunsEachRequestAlone) {
  constexpr const char* kNoBatch = R"(
name: "tmlp"
platform: "onnxruntime_onnx"
max_batch_size: 0
input [ { name: "features" data_type: TYPE_FP32 dims: [ 1, 48 ] } ]
output [ { name: "forecast" data_type: TYPE_FP32 dims: [ 1, 24 ] } ]
)";
  auto c = Parse("", kNoBatch);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->batch_dimension);
  EXPECT_EQ(c->max_batch_size, 1);
  EXPECT_EQ(c->inputs[0].shape, (Shape{-1, 48}));
  EXPECT_EQ(c->outputs[0].shape, (Shape{-1, 24}));
  const auto b = nlohmann::json::parse(c->batching_json);
  EXPECT_EQ(b["policy"], "fixed");
  EXPECT_EQ(b["batch_size"], 1);
  EXPECT_TRUE(c->CheckShape(c->inputs[0], {1, 48}).ok());
  Status two = c->CheckShape(c->inputs[0], {2, 48});
  EXPECT_NE(two.message().find("no batch dimension (max_batch_size 0) and takes [1,48]"),
            std::string::npos)
      << two;

  std::string rank1 = kNoBatch;
  rank1.replace(rank1.find("dims: [ 1, 48 ]"), 15, "dims: [ 48 ]");
  ExpectError("", "with max_batch_size 0 its dims must start with 1", rank1);
  ExpectError("dynamic_batching { }", "dynamic_batching needs max_batch_size >= 1", kNoBatch);
  std::string negative = kConfig;
  negative.replace(negative.find("max_batch_size: 16"), 18, "max_batch_size: -1");
  ExpectError("", "below 0", negative);
}

TEST_F(TritonConfigTest, WithoutDynamicBatchingEachRequestRunsAlone) {
  auto c = Parse("");
  ASSERT_TRUE(c.ok()) << c.status();
  const auto b = nlohmann::json::parse(c->batching_json);
  EXPECT_EQ(b["policy"], "fixed");
  EXPECT_EQ(b["batch_size"], 1);
  EXPECT_TRUE(c->processor_kinds.empty());
  ExpectError("dynamic_batching { preferred_batch_size: [ 32 ] }", "preferred_batch_size");
}

TEST_F(TritonConfigTest, InstanceGroups) {
  auto gpu = Parse("instance_group [ { kind: KIND_GPU } ]");
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  EXPECT_EQ(gpu->processor_kinds, std::vector<std::string>{"gpu"});
  auto any = Parse("instance_group [ { kind: KIND_AUTO count: 1 } ]");
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_TRUE(any->processor_kinds.empty());
  ExpectError("instance_group [ { count: 2 kind: KIND_CPU } ]", "count 2");
  ExpectError("instance_group [ { kind: KIND_CPU }, { kind: KIND_GPU } ]", "one group");
  ExpectError("instance_group [ { kind: KIND_MODEL } ]", "KIND_MODEL");
}

TEST_F(TritonConfigTest, DataTypes) {
  std::string base = kConfig;
  base.replace(base.find("TYPE_FP32"), 9, "TYPE_STRING");
  auto c = Parse("", base);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->inputs[0].dtype, DataType::kBytes);
  base = kConfig;
  base.replace(base.find("TYPE_FP32"), 9, "TYPE_INVALID");
  ExpectError("", "TYPE_INVALID", base);
  base = kConfig;
  base.replace(base.find("dims: [ 48 ]"), 12, "dims: [ -1 ]");
  ExpectError("", "dim below 1", base);
}

TEST_F(TritonConfigTest, UnknownFieldsAndSyntaxErrorsNameFileLineAndField) {
  // Line 1 of the text is empty (kConfig starts with a newline); the field is on line 7.
  ExpectError("sequence_batching { }", "line 7");
  ExpectError("sequence_batching { }", "sequence_batching");
  ExpectError("instance_group [ { gpus: [ 0 ] } ]", "gpus");
  ExpectError("max_batch_size: \"many\"", "line 7");
}

TEST_F(TritonConfigTest, JsonFormOfTheLoadRequest) {
  auto c = ParseTritonConfigJson(
      R"({"name": "tmlp", "backend": "onnxruntime", "max_batch_size": 4,
          "input": [{"name": "features", "data_type": "TYPE_FP32", "dims": [48]}],
          "output": [{"name": "forecast", "data_type": "TYPE_FP32", "dims": [24]}],
          "version_policy": {"specific": {"versions": [2]}}})",
      folder_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->max_batch_size, 4);
  EXPECT_EQ(c->version, 2);
  auto bad = ParseTritonConfigJson(R"({"name": "tmlp", "bogus": 1})", folder_);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bogus"), std::string::npos) << bad.status();
}

TEST_F(TritonConfigTest, RepositoryListsAndLoadsTritonFolders) {
  std::ofstream(fs::path(folder_) / "config.pbtxt") << kConfig;
  auto folders = ListModelFolders(root_.string());
  ASSERT_TRUE(folders.ok()) << folders.status();
  EXPECT_EQ(*folders, std::vector<std::string>{folder_});
  auto c = LoadModelConfig(folder_);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->version, 3);

  std::ofstream(fs::path(folder_) / "config.json") << "{}";
  auto both = LoadModelConfig(folder_);
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("both config.json and config.pbtxt"), std::string::npos);
  fs::remove(fs::path(folder_) / "config.json");

  std::string renamed = kConfig;
  renamed.replace(renamed.find("\"tmlp\""), 6, "\"other\"");
  std::ofstream(fs::path(folder_) / "config.pbtxt") << renamed;
  auto mismatch = LoadModelConfig(folder_);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("differs from its folder name"), std::string::npos);
}

}  // namespace
}  // namespace batchwise
