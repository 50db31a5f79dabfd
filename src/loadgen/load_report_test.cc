#include "loadgen/load_report.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace batchwise {
namespace {

using std::chrono::milliseconds;

ModelLoadResult TwoPhases() {
  ModelLoadResult m;
  m.model = "m";
  m.slo_ms = 10;
  m.phase_labels = {"1s@10/s", "1s@20/s"};
  LoadReport a, b;
  a.duration = b.duration = std::chrono::seconds(1);
  a.sent = a.ok = a.within_slo = 10;
  b.sent = 20;
  b.ok = 18;
  b.within_slo = 15;
  b.errors["UNAVAILABLE"] = 2;
  a.latency.Record(milliseconds(5));
  b.latency.Record(milliseconds(30));
  m.result.phases = {a, b};
  m.result.total = a;
  m.result.total.Merge(b);
  m.result.total.duration = std::chrono::seconds(2);
  LoadTimeSeries::Window w0, w1;
  w0.ok = 3;
  w0.latency.Record(milliseconds(4));
  w1.t_s = 1;  // no answers in this window
  m.series = {w0, w1};
  return m;
}

TEST(LoadReportTest, TableHasARowPerPhaseAndTheWholeRun) {
  std::string t = FormatLoadResults({TwoPhases()});
  EXPECT_NE(t.find("1s@10/s"), std::string::npos);
  EXPECT_NE(t.find("1s@20/s"), std::string::npos);
  EXPECT_NE(t.find("whole run"), std::string::npos);
  EXPECT_NE(t.find("UNAVAILABLE=2"), std::string::npos);
  EXPECT_NE(t.find("75.00%"), std::string::npos);  // phase 2: 15 of 20 within the SLO
}

TEST(LoadReportTest, ASinglePhaseIsOneRowUnderItsLabel) {
  ModelLoadResult m = TwoPhases();
  m.phase_labels = {"closed 4 clients"};
  m.result.phases = {m.result.total};
  std::string t = FormatLoadResults({m});
  EXPECT_NE(t.find("closed 4 clients"), std::string::npos);
  EXPECT_EQ(t.find("whole run"), std::string::npos);
}

TEST(LoadReportTest, CsvGivesAWindowWithoutAnswersNoLatency) {
  const std::string path = ::testing::TempDir() + "load_report_test.csv";
  ControllerPoller::Sample s;
  s.model = "m";
  s.batch_size = 7;
  s.direction_changes = 3;
  ASSERT_TRUE(WriteLoadCsv({TwoPhases()}, {s}, path, 1.0).ok());
  std::stringstream series, ctl;
  series << std::ifstream(path).rdbuf();
  ctl << std::ifstream(::testing::TempDir() + "load_report_test.controller.csv").rdbuf();
  EXPECT_NE(series.str().find("m,0.000,3.0,0.0,0.0,4."), std::string::npos) << series.str();
  EXPECT_NE(series.str().find("m,1.000,0.0,0.0,0.0,NaN,NaN"), std::string::npos) << series.str();
  EXPECT_NE(ctl.str().find("m,0.000,7,0,0.000,0,3"), std::string::npos) << ctl.str();
}

}  // namespace
}  // namespace batchwise
