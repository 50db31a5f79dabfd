// PinnedWorker: one thread, pinned to a set of CPUs, that runs submitted calls one at a time.
//
// Engines load, warm up and run their model on their worker, so every thread the engine library
// creates from it inherits the pinning (Linux threads inherit their creator's CPU mask) and
// per-thread settings (OpenMP thread count, the OpenCV instance pool) stay put, whatever thread
// calls the engine. Thread-safe: any thread may Call(); calls are serialised. The worker owns its
// thread and joins it in the destructor.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace batchwise {

// Pins the calling thread to `cores` (sched_setaffinity on its tid).
Status PinCurrentThread(const std::vector<int>& cores);
// Kernel id of the calling thread.
pid_t CurrentTid();

// Pins the calling thread to `cores` for its lifetime and restores the thread's previous mask
// after; threads created meanwhile keep the pinning (Linux threads inherit their creator's mask).
// Empty `cores`: nothing changes.
class ScopedThreadAffinity {
 public:
  static Result<std::unique_ptr<ScopedThreadAffinity>> Pin(const std::vector<int>& cores);
  ~ScopedThreadAffinity();
  ScopedThreadAffinity(const ScopedThreadAffinity&) = delete;
  ScopedThreadAffinity& operator=(const ScopedThreadAffinity&) = delete;

 private:
  ScopedThreadAffinity() = default;
  bool restore_ = false;
  cpu_set_t previous_{};
};

class PinnedWorker {
 public:
  struct Options {
    // CPUs the worker thread is pinned to; must be non-empty.
    std::vector<int> cpu_cores;
    // Thread name shown by ps/top (at most 15 characters are kept).
    std::string name = "bw-engine";
  };

  // Starts the thread and pins it; fails if the pinning fails.
  static Result<std::unique_ptr<PinnedWorker>> Create(const Options& options);
  ~PinnedWorker();

  // Runs `fn` on the worker thread and returns its Status; blocks until it has run.
  Status Call(const std::function<Status()>& fn);

  pid_t tid() const { return tid_; }

 private:
  PinnedWorker() = default;
  void Loop(std::stop_token stop);

  std::mutex call_mu_;  // serialises callers: one job in flight
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<Status()>* job_ = nullptr;  // guarded by mu_
  Status result_;                                 // guarded by mu_
  bool done_ = false;                             // guarded by mu_
  pid_t tid_ = 0;
  std::jthread thread_;  // last: started after the members above exist, joined first
};

}  // namespace batchwise
