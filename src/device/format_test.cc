#include "device/format.h"

#include <gtest/gtest.h>

#include <sstream>

namespace batchwise {
namespace {

std::vector<Processor> TwoProcessors() {
  Processor cpu;
  cpu.id = "cpu:0-3";
  cpu.cores = {0, 1, 2, 3, 8};
  cpu.memory_bytes = 16ull << 30;
  cpu.model = "Test CPU";
  Processor sim;
  sim.id = "sim:a100";
  sim.kind = ProcessorKind::kGpu;
  sim.simulated = true;
  sim.memory_bytes = 80ull << 30;
  sim.model = "A100 (simulated)";
  return {cpu, sim};
}

std::vector<ProcessorState> States() {
  ProcessorState a;
  a.id = "cpu:0-3";
  a.utilization_available = true;
  a.utilization = 0.125;
  a.memory_available = true;
  a.memory_utilization = 0.5;
  ProcessorState b;
  b.id = "sim:a100";
  b.status = NotFound("gone");
  return {a, b};
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(FormatProcessorTableTest, ColumnsAlign) {
  auto lines = Lines(FormatProcessorTable(TwoProcessors(), States()));
  ASSERT_EQ(lines.size(), 3u);
  for (const char* column : {"KIND", "SIM", "CORES", "MEMORY", "UTIL", "MEM-UTIL", "MODEL"}) {
    size_t at = lines[0].find(column);
    ASSERT_NE(at, std::string::npos);
    for (size_t i = 1; i < lines.size(); ++i)
      EXPECT_NE(lines[i][at], ' ') << column << " row " << i;
    for (size_t i = 1; i < lines.size(); ++i)
      EXPECT_EQ(lines[i][at - 1], ' ') << column << " row " << i;
  }
  EXPECT_NE(lines[1].find("0-3,8"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("12.5%"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("16.0 GiB"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("n/a"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("yes"), std::string::npos) << lines[2];
}

TEST(FormatProcessorTableTest, ProcessorWithoutStateShowsNa) {
  auto lines = Lines(FormatProcessorTable(TwoProcessors(), {}));
  EXPECT_NE(lines[1].find("n/a"), std::string::npos);
}

TEST(ToJsonTest, UnavailableReadingsAreNull) {
  auto j = ToJson(TwoProcessors(), States());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["id"], "cpu:0-3");
  EXPECT_EQ(j[0]["kind"], "cpu");
  EXPECT_EQ(j[0]["cores"], nlohmann::json({0, 1, 2, 3, 8}));
  EXPECT_DOUBLE_EQ(j[0]["state"]["utilization"].get<double>(), 0.125);
  EXPECT_FALSE(j[0]["state"].contains("status"));
  EXPECT_TRUE(j[1]["simulated"].get<bool>());
  EXPECT_TRUE(j[1]["state"]["utilization"].is_null());
  EXPECT_EQ(j[1]["state"]["status"], "NOT_FOUND: gone");
}

}  // namespace
}  // namespace batchwise
