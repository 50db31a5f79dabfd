#include "device/monitor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "device/simulated.h"
#include "device/testing/fake_files.h"
#include "device/testing/fake_state_source.h"

namespace batchwise {
namespace {

using std::chrono::milliseconds;
using testing::Reading;
using testing::ScriptedStateSource;
using testing::SourceScript;

constexpr Duration kPeriod = milliseconds(500);

HardwareMonitor::Options Opts(int64_t tau_ms) {
  HardwareMonitor::Options o;
  o.period_ms = 500;
  o.smoothing_time_constant_ms = tau_ms;
  return o;
}

// A monitor over one scripted source; the first queued reading is consumed as the baseline.
std::unique_ptr<HardwareMonitor> ScriptedMonitor(FakeClock& clock, std::shared_ptr<SourceScript> s,
                                                 int64_t tau_ms = 1000) {
  std::vector<HardwareMonitor::Source> sources;
  sources.push_back({"fake:0", std::make_unique<ScriptedStateSource>(s)});
  auto m = HardwareMonitor::Create(Opts(tau_ms), clock, std::move(sources));
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(m).value();
}

// Waits (real time, bounded) until the monitor has completed `n` rounds.
bool WaitForRounds(const HardwareMonitor& m, uint64_t n) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (m.rounds() < n) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(HardwareMonitorTest, RejectsBadOptionsAndSources) {
  FakeClock clock;
  HardwareMonitor::Options zero_period;
  zero_period.period_ms = 0;
  EXPECT_EQ(HardwareMonitor::Create(zero_period, clock, {}).status().code(),
            StatusCode::kInvalidArgument);
  HardwareMonitor::Options negative_tau;
  negative_tau.smoothing_time_constant_ms = -1;
  EXPECT_EQ(HardwareMonitor::Create(negative_tau, clock, {}).status().code(),
            StatusCode::kInvalidArgument);
  std::vector<HardwareMonitor::Source> dup;
  auto script = std::make_shared<SourceScript>();
  dup.push_back({"a", std::make_unique<ScriptedStateSource>(script)});
  dup.push_back({"a", std::make_unique<ScriptedStateSource>(script)});
  EXPECT_EQ(HardwareMonitor::Create({}, clock, std::move(dup)).status().code(),
            StatusCode::kInvalidArgument);
  std::vector<HardwareMonitor::Source> null_source;
  null_source.push_back({"a", nullptr});
  EXPECT_FALSE(HardwareMonitor::Create({}, clock, std::move(null_source)).ok());
}

TEST(HardwareMonitorTest, StateBeforeTheFirstSampleIsUnavailable) {
  FakeClock clock;
  auto script = std::make_shared<SourceScript>();
  script->readings = {Reading(0.9, 0.9)};
  auto m = ScriptedMonitor(clock, script);
  auto s = m->State("fake:0");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->samples, 0u);
  EXPECT_FALSE(s->utilization_available);
  EXPECT_FALSE(s->memory_available);
  EXPECT_EQ(s->status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(m->State("nope").status().code(), StatusCode::kNotFound);
}

TEST(HardwareMonitorTest, SampleOnceSmoothsWithTheActualInterval) {
  FakeClock clock;
  const TimePoint t0 = clock.Now();
  auto script = std::make_shared<SourceScript>();
  script->readings = {Reading(0, 0), Reading(0.0, 0.2), Reading(1.0, 0.6)};
  auto m = ScriptedMonitor(clock, script, /*tau_ms=*/1000);
  clock.Advance(kPeriod);
  m->SampleOnce();  // first sample: taken as is
  clock.Advance(milliseconds(700));
  m->SampleOnce();
  ProcessorState s = m->Snapshot().at(0);
  const double alpha = 1.0 - std::exp(-0.7);
  EXPECT_EQ(s.samples, 2u);
  EXPECT_EQ(s.timestamp, t0 + milliseconds(1200));
  EXPECT_DOUBLE_EQ(s.utilization_raw, 1.0);
  EXPECT_DOUBLE_EQ(s.utilization, alpha);
  EXPECT_DOUBLE_EQ(s.memory_utilization_raw, 0.6);
  EXPECT_DOUBLE_EQ(s.memory_utilization, 0.2 + alpha * 0.4);
  EXPECT_EQ(s.memory_used_bytes, 600u);
  EXPECT_TRUE(s.status.ok());
}

TEST(HardwareMonitorTest, ThreadTakesOneSamplePerPeriodAtFakeTimes) {
  FakeClock clock;
  const TimePoint t0 = clock.Now();
  auto script = std::make_shared<SourceScript>();
  script->readings = {Reading(0.5, 0.5)};
  auto m = ScriptedMonitor(clock, script);
  m->Start();
  constexpr int kN = 5;
  for (int i = 1; i <= kN; ++i) {
    clock.BlockUntilWaiters(1);  // the thread is parked on its next tick
    EXPECT_EQ(m->rounds(), uint64_t(i - 1));
    clock.Advance(kPeriod);
    ASSERT_TRUE(WaitForRounds(*m, i)) << "no sample after period " << i;
  }
  m->Stop();
  EXPECT_EQ(m->rounds(), uint64_t(kN));
  std::lock_guard<std::mutex> l(script->mu);
  ASSERT_EQ(script->read_at.size(), size_t(kN + 1));  // baseline + one per period
  for (int i = 0; i <= kN; ++i) EXPECT_EQ(script->read_at[i], t0 + i * kPeriod) << i;
  ProcessorState s = m->Snapshot().at(0);
  EXPECT_EQ(s.timestamp, t0 + kN * kPeriod);
  EXPECT_EQ(s.samples, uint64_t(kN));
}

TEST(HardwareMonitorTest, FallingBehindSkipsMissedTicks) {
  FakeClock clock;
  const TimePoint t0 = clock.Now();
  auto script = std::make_shared<SourceScript>();
  script->readings = {Reading(0.5, 0.5)};
  auto m = ScriptedMonitor(clock, script);
  m->Start();
  clock.BlockUntilWaiters(1);
  clock.Advance(3 * kPeriod);
  ASSERT_TRUE(WaitForRounds(*m, 1));
  clock.BlockUntilWaiters(1);
  EXPECT_EQ(m->rounds(), 1u);  // one sample for three periods, not a burst of three
  clock.Advance(kPeriod);
  ASSERT_TRUE(WaitForRounds(*m, 2));
  EXPECT_EQ(m->Snapshot().at(0).timestamp, t0 + 4 * kPeriod);
}

TEST(HardwareMonitorTest, StopWithoutStartAndDestroyWhileRunningAreSafe) {
  FakeClock clock;
  auto script = std::make_shared<SourceScript>();
  auto m = ScriptedMonitor(clock, script);
  m->Stop();
  m->Start();
  m->Start();  // no-op
  clock.BlockUntilWaiters(1);
  m.reset();  // joins a thread parked on the fake clock
  SUCCEED();
}

TEST(HardwareMonitorTest, FailedReadMarksUnavailableInsteadOfKeepingStaleValues) {
  FakeClock clock;
  auto script = std::make_shared<SourceScript>();
  RawState failed;
  failed.status = NotFound("cannot open /proc/stat");
  script->readings = {Reading(0, 0), Reading(0.4, 0.3), failed, Reading(0.6, 0.3)};
  auto m = ScriptedMonitor(clock, script);
  clock.Advance(kPeriod);
  m->SampleOnce();
  EXPECT_TRUE(m->Snapshot()[0].utilization_available);
  clock.Advance(kPeriod);
  m->SampleOnce();
  ProcessorState s = m->Snapshot()[0];
  EXPECT_FALSE(s.utilization_available);
  EXPECT_FALSE(s.memory_available);
  EXPECT_EQ(s.status, NotFound("cannot open /proc/stat"));
  EXPECT_EQ(s.samples, 2u);
  clock.Advance(kPeriod);
  m->SampleOnce();
  s = m->Snapshot()[0];
  EXPECT_TRUE(s.utilization_available);
  EXPECT_TRUE(s.status.ok());
  // The gap is 1 s since the last good reading: alpha = 1 - exp(-1).
  EXPECT_DOUBLE_EQ(s.utilization, 0.4 + (1.0 - std::exp(-1.0)) * 0.2);
}

TEST(HardwareMonitorTest, MissingProcFilesKeepTheThreadRunningAndRecover) {
  testing::FakeFileTree tree;
  FakeClock clock;
  std::vector<HardwareMonitor::Source> sources;
  sources.push_back({"cpu:0", NewCpuStateSource({0}, {tree.Path("proc"), tree.Path("cgroup")})});
  auto m = HardwareMonitor::Create(Opts(0), clock, std::move(sources));
  ASSERT_TRUE(m.ok()) << m.status();
  (*m)->Start();
  for (int i = 1; i <= 2; ++i) {
    clock.BlockUntilWaiters(1);
    clock.Advance(kPeriod);
    ASSERT_TRUE(WaitForRounds(**m, i));
  }
  ProcessorState s = (*m)->Snapshot()[0];
  EXPECT_FALSE(s.utilization_available);
  EXPECT_FALSE(s.memory_available);
  EXPECT_EQ(s.status.code(), StatusCode::kNotFound);
  EXPECT_NE(s.status.message().find(tree.Path("proc") + "/stat"), std::string::npos) << s.status;
  EXPECT_NE(s.status.message().find("meminfo"), std::string::npos) << s.status;

  tree.Write("proc/stat", "cpu0 0 0 0 0 0 0 0 0 0 0\n");
  tree.Write("proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 250 kB\n");
  for (int i = 3; i <= 4; ++i) {
    if (i == 4) tree.Write("proc/stat", "cpu0 30 0 10 60 0 0 0 0 0 0\n");
    clock.BlockUntilWaiters(1);
    clock.Advance(kPeriod);
    ASSERT_TRUE(WaitForRounds(**m, i));
  }
  s = (*m)->Snapshot()[0];
  EXPECT_TRUE(s.utilization_available) << s.status;
  EXPECT_DOUBLE_EQ(s.utilization, 0.4);
  EXPECT_TRUE(s.memory_available);
  EXPECT_DOUBLE_EQ(s.memory_utilization, 0.75);
  EXPECT_TRUE(s.status.ok()) << s.status;
}

TEST(HardwareMonitorTest, SimulatedProcessorReportsBusyFractionAndReservedMemory) {
  FakeClock clock;
  Processor p;
  p.id = "sim:x";
  p.kind = ProcessorKind::kGpu;
  p.simulated = true;
  p.load = std::make_shared<SimulatedLoad>(4000);
  auto m = CreateMonitorFor(Opts(0), clock, {p});
  ASSERT_TRUE(m.ok()) << m.status();
  p.load->AddBusy(milliseconds(125));
  p.load->AddBusy(milliseconds(125));
  ASSERT_TRUE(p.load->Reserve(1000).ok());
  clock.Advance(kPeriod);
  (*m)->SampleOnce();
  ProcessorState s = (*m)->Snapshot()[0];
  EXPECT_DOUBLE_EQ(s.utilization, 0.5);
  EXPECT_DOUBLE_EQ(s.memory_utilization, 0.25);
  EXPECT_EQ(s.memory_total_bytes, 4000u);
  p.load->AddBusy(milliseconds(1500));  // overlapping instances: capped at 1
  clock.Advance(kPeriod);
  (*m)->SampleOnce();
  EXPECT_DOUBLE_EQ((*m)->Snapshot()[0].utilization, 1.0);
}

TEST(CreateMonitorForTest, RealGpuWithoutNvmlIsFailedPrecondition) {
  FakeClock clock;
  Processor gpu;
  gpu.id = "gpu:0";
  gpu.kind = ProcessorKind::kGpu;
  gpu.gpu_index = 0;
  EXPECT_EQ(CreateMonitorFor({}, clock, {gpu}).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace batchwise
