#include "device/proc_stat.h"

#include <gtest/gtest.h>

#include "device/testing/fake_files.h"

namespace batchwise {
namespace {

using testing::FakeFileTree;

// A /proc/stat with the aggregate line and two per-CPU lines; fields: user nice system idle
// iowait irq softirq steal guest guest_nice.
std::string Stat(const std::string& cpu0, const std::string& cpu1) {
  return "cpu  999 0 999 999 0 0 0 0 0 0\ncpu0 " + cpu0 + "\ncpu1 " + cpu1 +
         "\nintr 1 2 3\nctxt 42\n";
}

TEST(ReadProcStatTest, SumsBusyAndTotalPerCpu) {
  FakeFileTree tree;
  tree.Write("proc/stat", Stat("10 1 5 100 4 2 3 1 7 0", "1 0 0 9 0 0 0 0 0 0"));
  auto got = ReadProcStat(tree.Path("proc"));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(got->at(0).busy, 10u + 1 + 5 + 2 + 3 + 1);  // guest (7) is inside user already
  EXPECT_EQ(got->at(0).total, 22u + 100 + 4);
  EXPECT_EQ(got->at(1).busy, 1u);
  EXPECT_EQ(got->at(1).total, 10u);
}

TEST(ReadProcStatTest, MissingFileIsNotFound) {
  FakeFileTree tree;
  auto got = ReadProcStat(tree.Path("proc"));
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
}

TEST(ReadProcStatTest, MalformedLineIsInvalidArgument) {
  FakeFileTree tree;
  tree.Write("proc/stat", "cpu0 1 2\n");
  EXPECT_EQ(ReadProcStat(tree.Path("proc")).status().code(), StatusCode::kInvalidArgument);
}

TEST(CpuUsageMeterTest, ExactUtilisationOfItsOwnCoresOnly) {
  FakeFileTree tree;
  tree.Write("proc/stat", Stat("0 0 0 0 0 0 0 0 0 0", "0 0 0 0 0 0 0 0 0 0"));
  CpuUsageMeter cpu0(tree.Path("proc"), {0});
  CpuUsageMeter cpu1(tree.Path("proc"), {1});
  CpuUsageMeter both(tree.Path("proc"), {0, 1});
  EXPECT_EQ(cpu0.Read().status().code(), StatusCode::kFailedPrecondition);  // baseline
  ASSERT_FALSE(cpu1.Read().ok());
  ASSERT_FALSE(both.Read().ok());

  // cpu0: 25 busy of 100 ticks; cpu1: 90 busy (user 60, system 20, softirq 10) of 100.
  tree.Write("proc/stat", Stat("20 0 5 70 5 0 0 0 0 0", "60 0 20 10 0 0 10 0 0 0"));
  EXPECT_DOUBLE_EQ(*cpu0.Read(), 0.25);
  EXPECT_DOUBLE_EQ(*cpu1.Read(), 0.90);
  EXPECT_DOUBLE_EQ(*both.Read(), (25.0 + 90.0) / 200.0);

  // Next interval: cpu0 fully idle for 50 ticks, cpu1 fully busy (steal counts as busy).
  tree.Write("proc/stat", Stat("20 0 5 120 5 0 0 0 0 0", "60 0 20 10 0 0 10 50 0 0"));
  EXPECT_DOUBLE_EQ(*cpu0.Read(), 0.0);
  EXPECT_DOUBLE_EQ(*cpu1.Read(), 1.0);
  EXPECT_DOUBLE_EQ(*both.Read(), 0.5);
}

TEST(CpuUsageMeterTest, NoElapsedTicksIsUnavailable) {
  FakeFileTree tree;
  tree.Write("proc/stat", Stat("1 0 0 1 0 0 0 0 0 0", "1 0 0 1 0 0 0 0 0 0"));
  CpuUsageMeter m(tree.Path("proc"), {0});
  ASSERT_FALSE(m.Read().ok());
  EXPECT_EQ(m.Read().status().code(), StatusCode::kUnavailable);
}

TEST(CpuUsageMeterTest, MissingCpuLineIsNotFound) {
  FakeFileTree tree;
  tree.Write("proc/stat", Stat("1 0 0 1 0 0 0 0 0 0", "1 0 0 1 0 0 0 0 0 0"));
  CpuUsageMeter m(tree.Path("proc"), {0, 7});
  auto got = m.Read();
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find("cpu7"), std::string::npos) << got.status();
}

TEST(CpuUsageMeterTest, RecoversAfterTheFileComesBack) {
  FakeFileTree tree;
  tree.Write("proc/stat", Stat("0 0 0 0 0 0 0 0 0 0", "0 0 0 0 0 0 0 0 0 0"));
  CpuUsageMeter m(tree.Path("proc"), {0});
  ASSERT_FALSE(m.Read().ok());
  tree.Remove("proc/stat");
  EXPECT_EQ(m.Read().status().code(), StatusCode::kNotFound);
  tree.Write("proc/stat", Stat("30 0 0 70 0 0 0 0 0 0", "0 0 0 0 0 0 0 0 0 0"));
  EXPECT_DOUBLE_EQ(*m.Read(), 0.30);  // over the whole span since the last good read
}

}  // namespace
}  // namespace batchwise
