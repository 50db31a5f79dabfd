#include "device/simulated.h"

#include <gtest/gtest.h>

#include "device/testing/fake_files.h"

namespace batchwise {
namespace {

using testing::FakeFileTree;

const std::string kShipped = std::string(BATCHWISE_SOURCE_DIR) + "/data/processors/simulated.json";
const std::string kCsv =
    std::string(BATCHWISE_SOURCE_DIR) + "/data/tables/resnet50_gpu_published.csv";

TEST(LoadSimulatedProcessorsTest, ShippedDeclarationHasAGpuAndAnNpu) {
  auto got = LoadSimulatedProcessors(kShipped);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  const Processor& gpu = (*got)[0];
  EXPECT_EQ(gpu.id, "sim:a100");
  EXPECT_EQ(gpu.kind, ProcessorKind::kGpu);
  EXPECT_TRUE(gpu.simulated);
  EXPECT_EQ(gpu.memory_bytes, 80ull << 30);
  ASSERT_TRUE(gpu.table && gpu.load);
  EXPECT_DOUBLE_EQ(gpu.table->ProcessingPerformance(), 2857.6);  // a100-80gb at batch 32
  EXPECT_EQ(gpu.signature.rfind("simulated:a100-80gb/resnet50#", 0), 0u) << gpu.signature;
  const Processor& npu = (*got)[1];
  EXPECT_EQ(npu.id, "sim:npu0");
  EXPECT_EQ(npu.kind, ProcessorKind::kNpu);
  EXPECT_EQ(npu.memory_bytes, 16ull << 30);
  EXPECT_DOUBLE_EQ(npu.table->ProcessingPerformance(), 1280.0);  // the T4 figures
}

TEST(LoadSimulatedProcessorsTest, SignatureChangesWithTheTable) {
  auto a100 = PerfTable::FromPublishedCsv(kCsv, "a100-80gb");
  ASSERT_TRUE(a100.ok());
  PerfTable changed = *a100;
  changed.cells[0].throughput += 1;
  EXPECT_NE(SimulatedSignature(*a100, 1), SimulatedSignature(changed, 1));
  EXPECT_NE(SimulatedSignature(*a100, 1), SimulatedSignature(*a100, 2));
  EXPECT_EQ(SimulatedSignature(*a100, 1), SimulatedSignature(*a100, 1));
}

struct BadDeclaration {
  std::string label;
  std::string body;
  StatusCode code;
};

class BadDeclarationTest : public ::testing::TestWithParam<BadDeclaration> {};

TEST_P(BadDeclarationTest, IsRejectedWithAClearStatus) {
  FakeFileTree tree;
  tree.Write("t.csv",
             "processor,batch_size,throughput,latency_avg_ms,latency_p90_ms,latency_p99_ms\n"
             "x,1,100,10,11,12\n");
  tree.Write("d.json", GetParam().body);
  auto got = LoadSimulatedProcessors(tree.Path("d.json"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), GetParam().code) << got.status();
}

const std::string kHead = R"({"format": "batchwise.simulated_processors/1", "processors": [)";
const std::string kTable = R"("table": {"csv": "t.csv", "processor": "x"})";

INSTANTIATE_TEST_SUITE_P(
    Declarations, BadDeclarationTest,
    ::testing::Values(
        BadDeclaration{"not_json", "{", StatusCode::kInvalidArgument},
        BadDeclaration{"wrong_format", R"({"format": "v0", "processors": []})",
                       StatusCode::kInvalidArgument},
        BadDeclaration{"no_name", kHead + R"({"kind": "gpu", "memory_gib": 1, )" + kTable + "}]}",
                       StatusCode::kInvalidArgument},
        BadDeclaration{"bad_kind",
                       kHead + R"({"name": "a", "kind": "tpu", "memory_gib": 1, )" + kTable + "}]}",
                       StatusCode::kInvalidArgument},
        BadDeclaration{"no_memory", kHead + R"({"name": "a", "kind": "gpu", )" + kTable + "}]}",
                       StatusCode::kInvalidArgument},
        BadDeclaration{
            "missing_table_file",
            kHead +
                R"({"name": "a", "kind": "gpu", "memory_gib": 1, "table": {"json": "nope.json"}}]})",
            StatusCode::kNotFound},
        BadDeclaration{
            "unknown_csv_processor",
            kHead +
                R"({"name": "a", "kind": "gpu", "memory_gib": 1, "table": {"csv": "t.csv", "processor": "y"}}]})",
            StatusCode::kNotFound},
        BadDeclaration{"duplicate",
                       kHead + R"({"name": "a", "kind": "gpu", "memory_gib": 1, )" + kTable +
                           R"(}, {"name": "a", "kind": "npu", "memory_gib": 1, )" + kTable + "}]}",
                       StatusCode::kAlreadyExists}),
    [](const auto& info) { return info.param.label; });

TEST(LoadSimulatedProcessorsTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadSimulatedProcessors("/nonexistent/sim.json").status().code(),
            StatusCode::kNotFound);
}

TEST(SimulatedLoadTest, ReserveRespectsCapacityAndReleaseClamps) {
  SimulatedLoad load(1000);
  EXPECT_TRUE(load.Reserve(600).ok());
  EXPECT_EQ(load.Reserve(500).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(load.reserved_bytes(), 600u);
  EXPECT_TRUE(load.Reserve(400).ok());
  load.Release(300);
  EXPECT_EQ(load.reserved_bytes(), 700u);
  load.Release(5000);
  EXPECT_EQ(load.reserved_bytes(), 0u);
}

TEST(SimulatedLoadTest, AccumulatesBusyTime) {
  SimulatedLoad load(1);
  load.AddBusy(std::chrono::milliseconds(3));
  load.AddBusy(std::chrono::milliseconds(-1));  // ignored
  load.AddBusy(std::chrono::milliseconds(4));
  EXPECT_EQ(load.busy_total(), std::chrono::milliseconds(7));
}

}  // namespace
}  // namespace batchwise
