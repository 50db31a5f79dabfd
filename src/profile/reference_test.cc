// S1 on the main job: where each processor's reference table comes from (stored, measured now and
// stored, declared, none), with the real engine on the generated MLP as the reference model.
#include "profile/reference.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "backend/testing/model_repo.h"
#include "serving/testing/scheduler_harness.h"

namespace batchwise {
namespace {

namespace fs = std::filesystem;

class ReferenceProfilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = LoadModelConfig((fs::path(testing::ModelsDir()) / "mlp_forecaster").string());
    if (!config.ok()) GTEST_SKIP() << testing::NoModelsMessage(config.status());
    reference_ = *config;
    store_ = (fs::temp_directory_path() / ("bw_ref_profiles_" + std::to_string(::getpid()))).string();
    fs::remove_all(store_);
    options_.store_dir = store_;
    ProfileOptions quick;
    quick.batch_sizes = {1, 2};
    quick.instance_counts = {1};
    quick.warmup = std::chrono::milliseconds(20);
    quick.window = std::chrono::milliseconds(50);
    quick.stable_windows = 2;
    quick.stability_percent = 50;
    quick.max_cell_duration = std::chrono::milliseconds(300);
    options_.sweep = quick;
  }
  void TearDown() override { fs::remove_all(store_); }

  Processor Cpu() {
    Processor p = testing::CpuProcessor("cpu:0", {0});
    p.signature = "test-cpu";
    p.model = "test cpu";
    return p;
  }

  ModelConfig reference_;
  std::string store_;
  ReferenceProfileOptions options_;
};

TEST_F(ReferenceProfilesTest, AProcessorWithoutATableIsMeasuredStoredAndFoundNextTime) {
  auto first = ReferenceProfiles({Cpu()}, reference_, options_, SystemClock());
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(first[0].has_table) << first[0].origin;
  EXPECT_EQ(first[0].origin.rfind("measured now in ", 0), 0u) << first[0].origin;
  EXPECT_NE(first[0].origin.find("stored in " + store_), std::string::npos) << first[0].origin;
  EXPECT_EQ(first[0].table.cells.size(), 2u);
  EXPECT_GT(first[0].table.ProcessingPerformance(), 0);
  EXPECT_EQ(first[0].table.processor_signature, "test-cpu");

  auto again = ReferenceProfiles({Cpu()}, reference_, options_, SystemClock());
  ASSERT_TRUE(again[0].has_table);
  EXPECT_EQ(again[0].origin.rfind("stored in " + store_, 0), 0u) << again[0].origin;
  EXPECT_DOUBLE_EQ(again[0].table.ProcessingPerformance(),
                   first[0].table.ProcessingPerformance());

  // Another machine (signature) does not reuse it.
  Processor other = Cpu();
  other.signature = "another-cpu";
  options_.measure = false;
  auto foreign = ReferenceProfiles({other}, reference_, options_, SystemClock());
  EXPECT_FALSE(foreign[0].has_table);
  EXPECT_EQ(foreign[0].origin, "none (--no-profile): the performance term is off for it");
}

TEST_F(ReferenceProfilesTest, SimulatedProcessorsAreDeclaredAndGpusNeedACudaBuild) {
  options_.measure = true;
  Processor sim = testing::CpuProcessor("sim:a", {});
  sim.simulated = true;
  sim.table = std::make_shared<PerfTable>(testing::TableWithPerformance(100, 1));
  Processor gpu;
  gpu.id = "gpu:0";
  gpu.kind = ProcessorKind::kGpu;
  auto r = ReferenceProfiles({sim, gpu}, reference_, options_, SystemClock());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0].has_table);  // the processor's own table serves; nothing is stored
  EXPECT_EQ(r[0].origin, "declared by the simulated processor's table");
#ifndef BATCHWISE_WITH_CUDA
  EXPECT_FALSE(r[1].has_table);
  EXPECT_EQ(r[1].origin, "none: this build cannot run the reference model on a gpu");
#endif
}

TEST(ReferenceProfileDirTest, FollowsTheStateDirectoryConvention) {
  ::setenv("BATCHWISE_STATE_DIR", "/x/state", 1);
  EXPECT_EQ(DefaultProfileDir(), "/x/state/profiles");
  ::unsetenv("BATCHWISE_STATE_DIR");
  const char* xdg = std::getenv("XDG_STATE_HOME");
  const std::string saved = xdg ? xdg : "";
  ::setenv("XDG_STATE_HOME", "/y", 1);
  EXPECT_EQ(DefaultProfileDir(), "/y/batchwise/profiles");
  if (saved.empty()) ::unsetenv("XDG_STATE_HOME");
  else ::setenv("XDG_STATE_HOME", saved.c_str(), 1);
}

}  // namespace
}  // namespace batchwise
