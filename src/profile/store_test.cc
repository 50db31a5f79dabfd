#include "profile/store.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "profile/report.h"

namespace batchwise {
namespace {
namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bw_store_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  PerfTable Table() {
    PerfTable t;
    t.processor_id = "cpu:0";
    t.processor_signature = "cpu|X|pus=0";
    t.model_name = "resnet18";
    t.model_hash = "fnv1a64:00";
    t.engine = "onnx";
    PerfCell c;
    c.batch_size = 2;
    c.throughput = 50;
    c.latency_avg_ms = c.latency_p99_ms = 40;
    t.cells = {c};
    return t;
  }
  fs::path dir_;
};

TEST_F(StoreTest, ReusesOnlyAMatchingTable) {
  ProfileStore store(dir_.string());
  auto path = store.Save(Table());
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(fs::path(*path).filename(), "resnet18__cpu_0__onnx.json");
  EXPECT_TRUE(store.Find("cpu:0", "cpu|X|pus=0", "resnet18", "fnv1a64:00", "onnx"));
  EXPECT_FALSE(store.Find("cpu:0", "cpu|Y|pus=0", "resnet18", "fnv1a64:00", "onnx"));  // hardware
  EXPECT_FALSE(store.Find("cpu:0", "cpu|X|pus=0", "resnet18", "fnv1a64:01", "onnx"));  // model
  EXPECT_FALSE(store.Find("cpu:0", "cpu|X|pus=0", "resnet18", "fnv1a64:00", "torchscript"));
}

TEST_F(StoreTest, HashFileChangesWithContent) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "a") << "model bytes";
  auto h1 = HashFile((dir_ / "a").string());
  ASSERT_TRUE(h1.ok());
  EXPECT_EQ(h1->rfind("fnv1a64:", 0), 0u);
  EXPECT_EQ(*h1, *HashFile((dir_ / "a").string()));
  std::ofstream(dir_ / "a") << "model bytez";
  EXPECT_NE(*h1, *HashFile((dir_ / "a").string()));
  EXPECT_EQ(HashFile((dir_ / "missing").string()).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, ReportShowsEveryCellAndMarksSimulatedTables) {
  PerfTable real = Table();
  PerfTable sim = Table();
  sim.processor_id = "sim:a100";
  sim.simulated = true;
  std::string text = FormatPerfTables({real, sim});
  EXPECT_NE(text.find("cpu:0 onnx "), std::string::npos);
  EXPECT_NE(text.find("sim:a100 onnx (simulated)"), std::string::npos);
  EXPECT_NE(text.find("50.0"), std::string::npos);
  EXPECT_NE(text.find("processing performance 50.0"), std::string::npos);
}

TEST_F(StoreTest, PlotWritesAPng) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) GTEST_SKIP() << "no gnuplot";
  fs::create_directories(dir_);
  std::string png = (dir_ / "t.png").string();
  ASSERT_TRUE(WritePerfPlot({Table()}, png, "test").ok());
  std::ifstream in(png, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  EXPECT_EQ(std::string(magic + 1, 3), "PNG");
}

}  // namespace
}  // namespace batchwise
