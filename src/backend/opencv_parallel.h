// Per-instance parallelism for OpenCV DNN.
//
// OpenCV's thread count and its TBB arena are process-global, so two ONNX instances could not have
// their own cores and thread counts. OpenCV 4.6 lets a process replace its parallel_for_ backend;
// ours runs each parallel_for_ on the InstancePool bound to the calling thread (the instance's
// pinned worker) and runs it serially on any other thread. See docs/engines.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"

namespace batchwise {

// Installs the instance-aware backend into OpenCV, once per process (later calls do nothing).
void InstallOpenCvInstanceBackend();

// The compute threads of one OpenCV instance: the owning worker thread (index 0) plus
// num_threads - 1 helpers pinned to the instance's cores. Thread-safe for one caller at a time
// (the bound worker); owns the helper threads and joins them in the destructor.
class InstancePool {
 public:
  using TaskFn = void (*)(int start, int end, void* data);

  static Result<std::unique_ptr<InstancePool>> Create(const std::vector<int>& cores,
                                                      int num_threads);
  ~InstancePool();

  // Makes `pool` (may be null) the pool of the calling thread's parallel_for_ calls.
  static void BindToCurrentThread(InstancePool* pool);
  static InstancePool* Current();
  // Index of the calling thread inside its pool; 0 outside any pool.
  static int CurrentThreadIndex();

  int size() const { return static_cast<int>(helpers_.size()) + 1; }

  // Runs fn(i, i + 1, data) for every i in [0, tasks) on all pool threads; returns when done.
  void ParallelFor(int tasks, TaskFn fn, void* data);

 private:
  struct Job {
    TaskFn fn = nullptr;
    void* data = nullptr;
    int tasks = 0;
  };

  InstancePool() = default;
  void HelperLoop(std::stop_token stop, int index, std::vector<int> cores);
  void RunTasks(const Job& job);

  std::mutex mu_;
  std::condition_variable work_cv_;  // a new generation was published
  std::condition_variable done_cv_;  // a helper finished its share
  Job job_;                          // guarded by mu_
  uint64_t generation_ = 0;          // guarded by mu_
  int busy_helpers_ = 0;             // guarded by mu_
  std::atomic<int> next_task_{0};
  std::vector<std::jthread> helpers_;
};

}  // namespace batchwise
