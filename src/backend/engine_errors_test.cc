// Bad model files, bad targets and bad batches become a Status naming the problem, never a crash.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "backend/engine.h"
#include "backend/testing/model_repo.h"

namespace batchwise {
namespace {

using testing::LoadReferenceModel;
using testing::ReferenceModel;

class EngineErrorsTest : public ::testing::TestWithParam<EngineKind> {
 protected:
  void SetUp() override {
    auto m = LoadReferenceModel("mlp_forecaster");
    if (!m.ok()) GTEST_SKIP() << testing::NoModelsMessage(m.status());
    model_ = *m;
    dir_ = std::filesystem::temp_directory_path() /
           ("bw_engine_errors_" + std::to_string(::getpid()) + "_" +
            std::string(EngineKindName(GetParam())));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `bytes` bytes of the model file (all when -1) or `garbage`, and tries to load it.
  Result<std::unique_ptr<Engine>> LoadCopy(const std::string& name, long bytes,
                                           const std::string& garbage = "") {
    std::string path = (dir_ / name).string();
    std::ifstream in(model_.File(GetParam()), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), {});
    if (bytes >= 0) content.resize(static_cast<size_t>(bytes));
    if (!garbage.empty()) content = garbage;
    std::ofstream(path, std::ios::binary) << content;
    EngineOptions o = model_.Options(GetParam());
    o.model_path = path;
    return CreateEngine(GetParam(), o);
  }

  ReferenceModel model_;
  std::filesystem::path dir_;
};

TEST_P(EngineErrorsTest, MissingFileIsNotFoundNamingTheFile) {
  EngineOptions o = model_.Options(GetParam());
  o.model_path = (dir_ / "nope.bin").string();
  auto e = CreateEngine(GetParam(), o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_NE(e.status().message().find(o.model_path), std::string::npos) << e.status();
}

TEST_P(EngineErrorsTest, TruncatedFileIsInvalidArgumentNamingTheFile) {
  auto size = static_cast<long>(std::filesystem::file_size(model_.File(GetParam())));
  for (long bytes : {size / 2, size - 100, 16L}) {
    auto e = LoadCopy("truncated.model", bytes);
    ASSERT_FALSE(e.ok()) << "truncated to " << bytes;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status();
    EXPECT_NE(e.status().message().find("truncated.model"), std::string::npos) << e.status();
  }
}

TEST_P(EngineErrorsTest, GarbageFileIsInvalidArgument) {
  for (std::string garbage : {std::string("not a model at all\n"), std::string(4096, '\xff'),
                              std::string("PK\x03\x04garbage")}) {
    auto e = LoadCopy("garbage.model", -1, garbage);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status();
    EXPECT_NE(e.status().message().find("garbage.model"), std::string::npos) << e.status();
  }
}

TEST_P(EngineErrorsTest, ConfigThatDoesNotMatchTheModelIsInvalidArgument) {
  EngineOptions o = model_.Options(GetParam());
  o.outputs[0].shape = {-1, 25};
  auto e = CreateEngine(GetParam(), o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status();
  o = model_.Options(GetParam());
  o.inputs[0].shape = {-1, 47};
  e = CreateEngine(GetParam(), o);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status();
}

TEST_P(EngineErrorsTest, BadBatchIsInvalidArgumentAndTheEngineKeepsWorking) {
  auto e = CreateEngine(GetParam(), model_.Options(GetParam(), {.cpu_cores = {0}}));
  ASSERT_TRUE(e.ok()) << e.status();
  std::vector<float> values(2 * 47, 0.5f);
  std::vector<Tensor> bad = {Tensor::FromFloats({2, 47}, values)};
  EXPECT_EQ((*e)->Run(bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*e)->Run({}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*e)->Run(model_.ref_inputs).ok());
}

TEST_P(EngineErrorsTest, UnknownCoreIsInvalidArgument) {
  auto e = CreateEngine(GetParam(), model_.Options(GetParam(), {.cpu_cores = {4095}}));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status();
}

INSTANTIATE_TEST_SUITE_P(RealEngines, EngineErrorsTest,
                         ::testing::Values(EngineKind::kOnnx, EngineKind::kTorchScript),
                         [](const auto& info) { return std::string(EngineKindName(info.param)); });

// A detector config whose capacity, output datatype or output count differs from the model is
// refused at load, naming the output and both shapes or types.
TEST(DetectorConfigTest, AMismatchedDetectorConfigIsRefusedNamingTheOutput) {
  auto m = LoadReferenceModel("ssdlite320");
  if (!m.ok()) GTEST_SKIP() << testing::NoModelsMessage(m.status());
  auto expect_refused = [&](const EngineOptions& o, const std::string& says) {
    auto e = CreateEngine(EngineKind::kTorchScript, o);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.status();
    EXPECT_NE(e.status().message().find(says), std::string::npos) << e.status();
    EXPECT_NE(e.status().message().find("does not match its config"), std::string::npos);
  };
  EngineOptions o = m->Options(EngineKind::kTorchScript, {.cpu_cores = {0}});
  o.outputs[0].shape = {-1, 50, 4};
  expect_refused(o, "output 'boxes' is FP32 [1,100,4], declared FP32 [1,50,4]");
  o = m->Options(EngineKind::kTorchScript, {.cpu_cores = {0}});
  o.outputs[2].dtype = DataType::kInt64;
  expect_refused(o, "output 'labels' is INT32 [1,100], declared INT64 [1,100]");
  o = m->Options(EngineKind::kTorchScript, {.cpu_cores = {0}});
  o.outputs.pop_back();
  expect_refused(o, "wrong output count");
}

TEST(CudaTargetTest, WithoutCudaIsUnimplementedWithAClearMessage) {
  auto m = LoadReferenceModel("mlp_forecaster");
  if (!m.ok()) GTEST_SKIP() << testing::NoModelsMessage(m.status());
  auto e = CreateEngine(EngineKind::kTorchScript,
                        m->Options(EngineKind::kTorchScript,
                                   {.device = ExecutionTarget::Device::kCuda, .cpu_cores = {0}}));
#ifdef BATCHWISE_WITH_CUDA
  if (e.ok()) GTEST_SKIP() << "this build and machine have CUDA: " << (*e)->Describe();
#endif
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(e.status().message().find("CUDA"), std::string::npos) << e.status();
  auto onnx = CreateEngine(EngineKind::kOnnx,
                           m->Options(EngineKind::kOnnx, {.device = ExecutionTarget::Device::kCuda}));
  EXPECT_EQ(onnx.status().code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace batchwise
