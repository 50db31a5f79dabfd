#include "backend/pinned_worker.h"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "backend/engine_util.h"

namespace batchwise {

pid_t CurrentTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

Status PinCurrentThread(const std::vector<int>& cores) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cores) CPU_SET(c, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    return InvalidArgument("cannot pin thread to cores " + CoresToString(cores) + ": " +
                           std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::unique_ptr<ScopedThreadAffinity>> ScopedThreadAffinity::Pin(
    const std::vector<int>& cores) {
  std::unique_ptr<ScopedThreadAffinity> s(new ScopedThreadAffinity());
  if (cores.empty()) return s;
  CPU_ZERO(&s->previous_);
  if (sched_getaffinity(0, sizeof(s->previous_), &s->previous_) != 0) {
    return Internal(std::string("cannot read the thread's cpu mask: ") + std::strerror(errno));
  }
  BW_RETURN_IF_ERROR(PinCurrentThread(cores));
  s->restore_ = true;
  return s;
}

ScopedThreadAffinity::~ScopedThreadAffinity() {
  if (restore_) sched_setaffinity(0, sizeof(previous_), &previous_);
}

Result<std::unique_ptr<PinnedWorker>> PinnedWorker::Create(const Options& options) {
  if (options.cpu_cores.empty()) return InvalidArgument("PinnedWorker needs at least one core");
  std::unique_ptr<PinnedWorker> w(new PinnedWorker());
  w->thread_ = std::jthread([raw = w.get()](std::stop_token stop) { raw->Loop(stop); });
  std::string name = options.name.substr(0, 15);
  pthread_setname_np(w->thread_.native_handle(), name.c_str());
  BW_RETURN_IF_ERROR(w->Call([&] {
    w->tid_ = CurrentTid();
    return PinCurrentThread(options.cpu_cores);
  }));
  return w;
}

PinnedWorker::~PinnedWorker() {
  thread_.request_stop();
  { std::lock_guard<std::mutex> l(mu_); }  // the loop sees the stop request under mu_
  cv_.notify_all();
}

Status PinnedWorker::Call(const std::function<Status()>& fn) {
  std::lock_guard<std::mutex> call(call_mu_);
  std::unique_lock<std::mutex> l(mu_);
  job_ = &fn;
  done_ = false;
  cv_.notify_all();
  cv_.wait(l, [&] { return done_; });
  return result_;
}

void PinnedWorker::Loop(std::stop_token stop) {
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    cv_.wait(l, [&] { return job_ != nullptr || stop.stop_requested(); });
    if (job_ == nullptr) return;
    const std::function<Status()>* job = job_;
    l.unlock();
    Status s = CatchAll(StatusCode::kInternal, "engine worker", *job);
    l.lock();
    result_ = std::move(s);
    job_ = nullptr;
    done_ = true;
    cv_.notify_all();
  }
}

}  // namespace batchwise
