// Two instances run concurrently, one pinned to core 0 and one to core 1: every thread that burns
// CPU while they run must be confined to exactly one instance's core, each core must have done
// real work, and each instance must have computed on exactly its num_threads threads.
//
// Evidence comes from the kernel, not from the engines: /proc/self/task/<tid>/stat (utime +
// stime, field 39: the CPU it last ran on) and sched_getaffinity(tid) for every thread.
#include <dirent.h>
#include <stdio.h>
#include <sched.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "backend/engine.h"
#include "backend/engine_util.h"
#include "backend/testing/model_repo.h"

namespace batchwise {
namespace {

struct ThreadStat {
  long ticks = 0;  // utime + stime, clock ticks
  int last_cpu = -1;
  std::vector<int> mask;
};

ThreadStat ReadThread(pid_t tid) {
  ThreadStat s;
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(in, line);
  const size_t name_end = line.rfind(')');  // the name may contain spaces
  if (name_end == std::string::npos || name_end + 2 > line.size()) return s;  // thread exited
  std::istringstream fields(line.substr(name_end + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  if (f.size() < 37) return s;
  s.ticks = std::stol(f[11]) + std::stol(f[12]);  // fields 14 and 15
  s.last_cpu = std::stoi(f[36]);                  // field 39
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(tid, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) if (CPU_ISSET(c, &set)) s.mask.push_back(c);
  }
  return s;
}

std::map<pid_t, ThreadStat> Snapshot() {
  std::map<pid_t, ThreadStat> out;
  DIR* dir = opendir("/proc/self/task");
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') out[std::stoi(e->d_name)] = ReadThread(std::stoi(e->d_name));
  }
  closedir(dir);
  return out;
}

struct Burn {
  long ticks = 0;
  int busy_threads = 0;  // threads with at least kBusyTicks
};
constexpr long kBusyTicks = 3;

using Param = std::tuple<EngineKind, int>;  // engine, threads per instance

class EnginePlacementTest : public ::testing::TestWithParam<Param> {};

TEST_P(EnginePlacementTest, EachInstanceComputesOnlyOnItsCoreWithItsThreads) {
  auto [kind, threads] = GetParam();
  if (AllowedCpus().size() < 2) GTEST_SKIP() << "needs cpus 0 and 1";
  auto model = testing::LoadReferenceModel("resnet18");
  if (!model.ok()) GTEST_SKIP() << testing::NoModelsMessage(model.status());
  auto a = CreateEngine(kind, model->Options(kind, {.cpu_cores = {0}, .num_threads = threads}));
  auto b = CreateEngine(kind, model->Options(kind, {.cpu_cores = {1}, .num_threads = threads}));
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();

  auto before = Snapshot();
  auto drive = [&](Engine& e) {
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(e.Run(model->ref_inputs).ok());
  };
  std::thread ta(drive, std::ref(**a)), tb(drive, std::ref(**b));
  ta.join();
  tb.join();
  auto after = Snapshot();

  std::map<std::vector<int>, Burn> by_mask;
  long total = 0;
  for (const auto& [tid, s] : after) {
    long delta = s.ticks - (before.count(tid) ? before[tid].ticks : 0);
    total += delta;
    by_mask[s.mask].ticks += delta;
    if (delta >= kBusyTicks) {
      ++by_mask[s.mask].busy_threads;
      EXPECT_TRUE(s.mask == std::vector<int>{0} || s.mask == std::vector<int>{1})
          << "thread " << tid << " burned " << delta << " ticks with mask " << CoresToString(s.mask);
      EXPECT_TRUE(std::find(s.mask.begin(), s.mask.end(), s.last_cpu) != s.mask.end())
          << "thread " << tid << " last ran on cpu " << s.last_cpu;
    }
  }
  for (const auto& [mask, burn] : by_mask) {
    std::printf("  mask %s: %ld ticks, %d busy thread(s)\n", CoresToString(mask).c_str(),
                burn.ticks, burn.busy_threads);
  }
  for (int core : {0, 1}) {
    const Burn& burn = by_mask[{core}];
    EXPECT_GE(burn.ticks, 30) << "instance on core " << core << " did no measurable work";
    // OpenCV serialises a parallel_for_ that starts while another instance is inside one (a
    // process-global nesting flag, docs/engines.md), so concurrent ONNX instances may leave
    // their helpers idle: at most num_threads there, exactly num_threads for libtorch.
    if (kind == EngineKind::kOnnx) {
      EXPECT_GE(burn.busy_threads, 1) << "instance on core " << core;
      EXPECT_LE(burn.busy_threads, threads) << "instance on core " << core;
    } else {
      EXPECT_EQ(burn.busy_threads, threads) << "compute threads of the instance on core " << core;
    }
  }
  long pinned = by_mask[{0}].ticks + by_mask[{1}].ticks;
  EXPECT_GE(pinned, total * 95 / 100) << "CPU burned outside the instances' cores: "
                                      << total - pinned << " of " << total << " ticks";
}

// Alone, an instance computes on exactly num_threads threads, all inside its cores.
class EngineThreadCountTest : public ::testing::TestWithParam<EngineKind> {};

TEST_P(EngineThreadCountTest, AloneAnInstanceUsesExactlyItsThreads) {
  EngineKind kind = GetParam();
  if (AllowedCpus().size() < 2) GTEST_SKIP() << "needs cpus 0 and 1";
  auto model = testing::LoadReferenceModel("resnet18");
  if (!model.ok()) GTEST_SKIP() << testing::NoModelsMessage(model.status());
  auto e = CreateEngine(kind, model->Options(kind, {.cpu_cores = {0, 1}, .num_threads = 2}));
  ASSERT_TRUE(e.ok()) << e.status();
  auto before = Snapshot();
  for (int i = 0; i < 12; ++i) ASSERT_TRUE((*e)->Run(model->ref_inputs).ok());
  auto after = Snapshot();
  int busy = 0;
  for (const auto& [tid, s] : after) {
    long delta = s.ticks - (before.count(tid) ? before[tid].ticks : 0);
    if (delta < kBusyTicks) continue;
    ++busy;
    EXPECT_EQ(s.mask, (std::vector<int>{0, 1})) << "thread " << tid << " burned " << delta;
  }
  EXPECT_EQ(busy, 2);
}

INSTANTIATE_TEST_SUITE_P(RealEngines, EngineThreadCountTest,
                         ::testing::Values(EngineKind::kOnnx, EngineKind::kTorchScript),
                         [](const auto& info) { return std::string(EngineKindName(info.param)); });

INSTANTIATE_TEST_SUITE_P(
    RealEngines, EnginePlacementTest,
    ::testing::Combine(::testing::Values(EngineKind::kOnnx, EngineKind::kTorchScript),
                       ::testing::Values(1, 2)),
    [](const auto& info) {
      return std::string(EngineKindName(std::get<0>(info.param))) + "_" +
             std::to_string(std::get<1>(info.param)) + "threads";
    });

}  // namespace
}  // namespace batchwise
