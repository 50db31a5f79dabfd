#include "device/processor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace batchwise {
namespace {

using ::testing::ElementsAre;

// 4 cores with 2 hardware threads each, numbered like Linux does on many x86 machines.
CpuTopology FourCoresTwoThreads() {
  CpuTopology t;
  t.model = "Test CPU";
  t.cores = {{0, 4}, {1, 5}, {2, 6}, {3, 7}};
  t.memory_bytes = 8ull << 30;
  return t;
}

struct SpecCase {
  std::string spec;
  std::vector<std::string> ids;
  std::vector<std::vector<int>> pus;
};

class CpuSpecTest : public ::testing::TestWithParam<SpecCase> {};

TEST_P(CpuSpecTest, ProducesExpectedPartitions) {
  auto got = MakeCpuProcessors(FourCoresTwoThreads(), GetParam().spec);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), GetParam().ids.size());
  for (size_t i = 0; i < got->size(); ++i) {
    EXPECT_EQ((*got)[i].id, GetParam().ids[i]);
    EXPECT_EQ((*got)[i].cores, GetParam().pus[i]);
    EXPECT_EQ((*got)[i].kind, ProcessorKind::kCpu);
    EXPECT_FALSE((*got)[i].simulated);
    EXPECT_EQ((*got)[i].memory_bytes, 8ull << 30);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Specs, CpuSpecTest,
    ::testing::Values(
        SpecCase{"cpu", {"cpu"}, {{0, 4, 1, 5, 2, 6, 3, 7}}},
        SpecCase{"cpu:1", {"cpu:1"}, {{1, 5}}}, SpecCase{"cpu:1-2", {"cpu:1-2"}, {{1, 5, 2, 6}}},
        SpecCase{"cpu/2", {"cpu:0-1", "cpu:2-3"}, {{0, 4, 1, 5}, {2, 6, 3, 7}}},
        SpecCase{"cpu/3", {"cpu:0-1", "cpu:2", "cpu:3"}, {{0, 4, 1, 5}, {2, 6}, {3, 7}}},
        SpecCase{"cpu/1", {"cpu:0-3"}, {{0, 4, 1, 5, 2, 6, 3, 7}}},
        SpecCase{"cpu:*", {"cpu:0", "cpu:1", "cpu:2", "cpu:3"}, {{0, 4}, {1, 5}, {2, 6}, {3, 7}}},
        SpecCase{"cpu:0, cpu:2-3", {"cpu:0", "cpu:2-3"}, {{0, 4}, {2, 6, 3, 7}}}));

class BadCpuSpecTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadCpuSpecTest, IsInvalidArgument) {
  auto got = MakeCpuProcessors(FourCoresTwoThreads(), GetParam());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << got.status();
}

INSTANTIATE_TEST_SUITE_P(Specs, BadCpuSpecTest,
                         ::testing::Values("", "gpu", "cpu:4", "cpu:1-0", "cpu:x", "cpu:-1",
                                           "cpu/0", "cpu/5", "cpu,cpu:0", "cpu:0,cpu:0-1", "cpu:0,",
                                           "cpu/2x"));

TEST(CpuSpecTest, SignatureNamesModelCoresAndMemory) {
  auto got = MakeCpuProcessors(FourCoresTwoThreads(), "cpu:0,cpu:1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)[0].signature, "cpu|Test CPU|pus=0,4|mem_bytes=8589934592");
  EXPECT_NE((*got)[0].signature, (*got)[1].signature);
}

TEST(ProcessorKindTest, RoundTripsNames) {
  for (auto k : {ProcessorKind::kCpu, ProcessorKind::kGpu, ProcessorKind::kNpu}) {
    auto parsed = ParseProcessorKind(ProcessorKindName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_FALSE(ParseProcessorKind("tpu").ok());
}

TEST(DiscoverCpuTopologyTest, FindsThisMachinesCores) {
  auto t = DiscoverCpuTopology();
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->cores.empty());
  EXPECT_FALSE(t->model.empty());
  EXPECT_GT(t->memory_bytes, 0u);
  for (const auto& pus : t->cores) EXPECT_FALSE(pus.empty());
}

}  // namespace
}  // namespace batchwise
