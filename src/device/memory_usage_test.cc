#include "device/memory_usage.h"

#include <gtest/gtest.h>

#include "device/testing/fake_files.h"

namespace batchwise {
namespace {

using testing::FakeFileTree;

constexpr uint64_t kGiB = 1ull << 30;

// MemTotal 16 GiB, MemAvailable 12 GiB.
void WriteMeminfo(FakeFileTree& tree) {
  tree.Write("proc/meminfo",
             "MemTotal:       16777216 kB\nMemFree:         1000000 kB\n"
             "MemAvailable:   12582912 kB\nBuffers:           1000 kB\n");
}

MemoryReader ReaderFor(const FakeFileTree& tree) {
  return MemoryReader({tree.Path("proc"), tree.Path("cgroup")});
}

// The layout of this development machine: hybrid, memory controller on v1.
void WriteHybridV1(FakeFileTree& tree, const std::string& limit) {
  tree.Write("proc/self/cgroup", "9:name=systemd:/\n4:memory:/jobs/a1\n1:cpu:/\n0::/\n");
  tree.Write("cgroup/memory/jobs/a1/memory.limit_in_bytes", limit + "\n");
  tree.Write("cgroup/memory/jobs/a1/memory.usage_in_bytes", std::to_string(3 * kGiB) + "\n");
  tree.Write("cgroup/memory/jobs/a1/memory.stat",
             "cache 5\ninactive_file 7\nhierarchical_memory_limit 9223372036854771712\n"
             "total_inactive_file " +
                 std::to_string(kGiB) + "\n");
}

TEST(MemoryReaderTest, CgroupV1LimitAndWorkingSet) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  WriteHybridV1(tree, std::to_string(4 * kGiB));
  auto got = ReaderFor(tree).Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source, MemorySourceKind::kCgroupV1);
  EXPECT_EQ(got->limit_bytes, 4 * kGiB);
  EXPECT_EQ(got->used_bytes, 2 * kGiB);  // usage 3 GiB minus 1 GiB inactive file cache
  EXPECT_DOUBLE_EQ(got->utilization(), 0.5);
}

TEST(MemoryReaderTest, CgroupV1UnlimitedFallsBackToMeminfo) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  WriteHybridV1(tree, "9223372036854771712");
  auto got = ReaderFor(tree).Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source, MemorySourceKind::kMeminfo);
  EXPECT_EQ(got->limit_bytes, 16 * kGiB);
  EXPECT_EQ(got->used_bytes, 4 * kGiB);
  EXPECT_DOUBLE_EQ(got->utilization(), 0.25);
}

TEST(MemoryReaderTest, CgroupV1HierarchicalLimitIsHonoured) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  WriteHybridV1(tree, "9223372036854771712");
  tree.Write("cgroup/memory/jobs/a1/memory.stat",
             "hierarchical_memory_limit " + std::to_string(6 * kGiB) + "\n");
  auto got = ReaderFor(tree).Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source, MemorySourceKind::kCgroupV1);
  EXPECT_EQ(got->limit_bytes, 6 * kGiB);
  EXPECT_EQ(got->used_bytes, 3 * kGiB);
}

TEST(MemoryReaderTest, CgroupLimitAboveMemTotalIsNoLimit) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  WriteHybridV1(tree, std::to_string(64 * kGiB));
  EXPECT_EQ(ReaderFor(tree).Read()->source, MemorySourceKind::kMeminfo);
}

void WriteV2(FakeFileTree& tree, const std::string& leaf_max) {
  tree.Write("proc/self/cgroup", "0::/user.slice/app.scope\n");
  tree.Write("cgroup/cgroup.controllers", "cpu memory\n");
  tree.Write("cgroup/user.slice/app.scope/memory.max", leaf_max + "\n");
  tree.Write("cgroup/user.slice/app.scope/memory.current", std::to_string(kGiB) + "\n");
  tree.Write("cgroup/user.slice/app.scope/memory.stat",
             "anon 100\nfile 200\ninactive_file " + std::to_string(kGiB / 2) + "\n");
  tree.Write("cgroup/user.slice/memory.max", "max\n");
}

TEST(MemoryReaderTest, CgroupV2LimitAndWorkingSet) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  WriteV2(tree, std::to_string(2 * kGiB));
  auto got = ReaderFor(tree).Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source, MemorySourceKind::kCgroupV2);
  EXPECT_EQ(got->limit_bytes, 2 * kGiB);
  EXPECT_EQ(got->used_bytes, kGiB / 2);
  EXPECT_DOUBLE_EQ(got->utilization(), 0.25);
}

TEST(MemoryReaderTest, CgroupV2TakesTheTightestAncestorLimit) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  WriteV2(tree, "max");
  tree.Write("cgroup/user.slice/memory.max", std::to_string(8 * kGiB) + "\n");
  auto got = ReaderFor(tree).Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source, MemorySourceKind::kCgroupV2);
  EXPECT_EQ(got->limit_bytes, 8 * kGiB);
}

TEST(MemoryReaderTest, CgroupV2MaxEverywhereFallsBackToMeminfo) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  WriteV2(tree, "max");
  EXPECT_EQ(ReaderFor(tree).Read()->source, MemorySourceKind::kMeminfo);
}

TEST(MemoryReaderTest, CgroupNamespaceUsesTheMountRoot) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  tree.Write("proc/self/cgroup", "0::/outside/view\n");  // not below the mount
  tree.Write("cgroup/memory.max", std::to_string(kGiB) + "\n");
  tree.Write("cgroup/memory.current", std::to_string(kGiB / 4) + "\n");
  auto got = ReaderFor(tree).Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source, MemorySourceKind::kCgroupV2);
  EXPECT_EQ(got->limit_bytes, kGiB);
  EXPECT_EQ(got->used_bytes, kGiB / 4);
}

TEST(MemoryReaderTest, CgroupV2ContainerAtTheRootOfItsNamespace) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  tree.Write("proc/self/cgroup", "0::/\n");  // what Docker on cgroup v2 shows
  tree.Write("cgroup/memory.max", std::to_string(2 * kGiB) + "\n");
  tree.Write("cgroup/memory.current", std::to_string(kGiB) + "\n");
  auto got = ReaderFor(tree).Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source, MemorySourceKind::kCgroupV2);
  EXPECT_DOUBLE_EQ(got->utilization(), 0.5);
}

TEST(MemoryReaderTest, NoCgroupUsesMeminfo) {
  FakeFileTree tree;
  WriteMeminfo(tree);
  auto got = ReaderFor(tree).Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->source, MemorySourceKind::kMeminfo);
  EXPECT_EQ(got->used_bytes, 4 * kGiB);
}

TEST(MemoryReaderTest, NothingReadableIsNotFound) {
  FakeFileTree tree;
  auto got = ReaderFor(tree).Read();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find("meminfo"), std::string::npos) << got.status();
}

TEST(MemoryReaderTest, RealMachineReadsSomething) {
  auto got = MemoryReader(MemoryReader::Options{}).Read();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_GT(got->limit_bytes, 0u);
  EXPECT_LE(got->utilization(), 1.0);
}

}  // namespace
}  // namespace batchwise
