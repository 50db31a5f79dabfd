#include "backend/opencv_parallel.h"

#include <algorithm>
#include <mutex>

#include <opencv2/core.hpp>
#include <opencv2/core/parallel/parallel_backend.hpp>

#include "backend/pinned_worker.h"

namespace batchwise {
namespace {

thread_local InstancePool* t_pool = nullptr;
thread_local int t_index = 0;

// Dispatches OpenCV's parallel_for_ to the calling thread's InstancePool; serial without one.
// Stateless, so thread-safe; OpenCV owns it through a shared_ptr.
class InstanceBackend final : public cv::parallel::ParallelForAPI {
 public:
  void parallel_for(int tasks, FN_parallel_for_body_cb_t fn, void* data) override {
    InstancePool* pool = InstancePool::Current();
    if (pool == nullptr || pool->size() == 1) {
      fn(0, tasks, data);
      return;
    }
    pool->ParallelFor(tasks, fn, data);
  }
  int getThreadNum() const override { return InstancePool::CurrentThreadIndex(); }
  int getNumThreads() const override {
    InstancePool* pool = InstancePool::Current();
    return pool == nullptr ? 1 : pool->size();
  }
  // The thread count is per instance (ExecutionTarget::num_threads); cv::setNumThreads is ignored.
  int setNumThreads(int) override { return getNumThreads(); }
  const char* getName() const override { return "batchwise-instance"; }
};

}  // namespace

void InstallOpenCvInstanceBackend() {
  static std::once_flag once;
  std::call_once(once, [] {
    cv::parallel::setParallelForBackend(std::make_shared<InstanceBackend>(),
                                        /*propagateNumThreads=*/false);
    // parallel_for_ only reaches a backend while OpenCV's global thread count is > 1 (it would
    // run everything serially at 1); the per-instance count comes from the pool.
    cv::setNumThreads(std::max(2, cv::getNumberOfCPUs()));
  });
}

Result<std::unique_ptr<InstancePool>> InstancePool::Create(const std::vector<int>& cores,
                                                           int num_threads) {
  if (num_threads < 1) return InvalidArgument("an instance pool needs at least one thread");
  std::unique_ptr<InstancePool> pool(new InstancePool());
  for (int i = 1; i < num_threads; ++i) {
    pool->helpers_.emplace_back([raw = pool.get(), i, cores](std::stop_token stop) {
      raw->HelperLoop(stop, i, cores);
    });
  }
  return pool;
}

InstancePool::~InstancePool() {
  for (auto& h : helpers_) h.request_stop();
  { std::lock_guard<std::mutex> l(mu_); }
  work_cv_.notify_all();
  helpers_.clear();  // joins
}

void InstancePool::BindToCurrentThread(InstancePool* pool) {
  t_pool = pool;
  t_index = 0;
}

InstancePool* InstancePool::Current() { return t_pool; }
int InstancePool::CurrentThreadIndex() { return t_index; }

void InstancePool::ParallelFor(int tasks, TaskFn fn, void* data) {
  Job job{fn, data, tasks};
  {
    std::lock_guard<std::mutex> l(mu_);
    job_ = job;
    next_task_.store(0);
    busy_helpers_ = static_cast<int>(helpers_.size());
    ++generation_;
  }
  work_cv_.notify_all();
  RunTasks(job);
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait(l, [&] { return busy_helpers_ == 0; });
}

void InstancePool::RunTasks(const Job& job) {
  for (int i = next_task_.fetch_add(1); i < job.tasks; i = next_task_.fetch_add(1)) {
    job.fn(i, i + 1, job.data);
  }
}

void InstancePool::HelperLoop(std::stop_token stop, int index, std::vector<int> cores) {
  t_index = index;
  (void)PinCurrentThread(cores);  // cores were validated by the engine; an error leaves the
                                  // creator's mask, which the worker already narrowed to them
  uint64_t seen = 0;
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    work_cv_.wait(l, [&] { return generation_ != seen || stop.stop_requested(); });
    if (stop.stop_requested()) return;
    seen = generation_;
    Job job = job_;
    l.unlock();
    RunTasks(job);
    l.lock();
    if (--busy_helpers_ == 0) done_cv_.notify_all();
  }
}

}  // namespace batchwise
