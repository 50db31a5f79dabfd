// The one test that runs on real time: it checks per-partition accuracy on this machine by
// burning one core. Named RealTime* so it can be filtered (--gtest_filter=-RealTime*).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "device/monitor.h"

namespace batchwise {
namespace {

using std::chrono::milliseconds;

bool PinCurrentThread(const std::vector<int>& pus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int pu : pus) CPU_SET(pu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

double Utilization(const HardwareMonitor& m, const std::string& id) {
  auto s = m.State(id);
  EXPECT_TRUE(s.ok() && s->utilization_available) << id << ": " << s.status();
  return s.ok() ? s->utilization : -1;
}

TEST(RealTimeCpuPartitionTest, BusyCoreReadsHighWhileIdleCoreStaysLow) {
  auto topology = DiscoverCpuTopology();
  ASSERT_TRUE(topology.ok()) << topology.status();
  if (topology->cores.size() < 2) GTEST_SKIP() << "needs two cores";
  auto cpus = MakeCpuProcessors(*topology, "cpu:0,cpu:1");
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  RealClock clock;
  HardwareMonitor::Options options;
  options.smoothing_time_constant_ms = 0;  // raw per-interval utilisation
  auto monitor = CreateMonitorFor(options, clock, *cpus);
  ASSERT_TRUE(monitor.ok()) << monitor.status();

  clock.SleepFor(milliseconds(300));
  (*monitor)->SampleOnce();
  const double before = Utilization(**monitor, "cpu:0");
  if (before > 0.5) GTEST_SKIP() << "core 0 already " << before << " busy: machine not quiet";

  std::atomic<bool> stop{false};
  std::atomic<bool> pinned{false};
  std::jthread burner([&] {
    pinned = PinCurrentThread((*cpus)[1].cores);
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  clock.SleepFor(milliseconds(1000));
  (*monitor)->SampleOnce();
  stop = true;
  burner.join();
  ASSERT_TRUE(pinned) << "could not pin the burner to core 1";
  const double busy = Utilization(**monitor, "cpu:1");
  const double idle = Utilization(**monitor, "cpu:0");
  RecordProperty("cpu1_utilization", std::to_string(busy));
  RecordProperty("cpu0_utilization", std::to_string(idle));
  EXPECT_GT(busy, 0.8);
  EXPECT_LT(idle, 0.5);
}

}  // namespace
}  // namespace batchwise
