#include "device/state_source.h"

#include "device/proc_stat.h"
#include "device/simulated.h"

namespace batchwise {
namespace {

// Joins the reasons of fields that could not be read into one Status.
void AddProblem(RawState& s, const Status& problem) {
  if (s.status.ok()) {
    s.status = problem;
  } else {
    s.status = Status(s.status.code(), s.status.message() + "; " + problem.message());
  }
}

std::string CpuList(const std::vector<int>& pus) {
  std::string s;
  for (int pu : pus) s += (s.empty() ? "cpu" : ",cpu") + std::to_string(pu);
  return s;
}

// A CPU partition: per-core ticks from /proc/stat, host memory from the cgroup or meminfo.
class CpuStateSource final : public StateSource {
 public:
  CpuStateSource(std::vector<int> pus, const HostPaths& paths)
      : description_("/proc/stat " + CpuList(pus) + " + memory cgroup or /proc/meminfo"),
        meter_(paths.proc_root, std::move(pus)),
        memory_(MemoryReader::Options{paths.proc_root, paths.cgroup_root}) {}

  RawState Read(TimePoint) override {
    RawState s;
    auto u = meter_.Read();
    if (u.ok()) {
      s.utilization = *u;
    } else if (u.status().code() != StatusCode::kFailedPrecondition) {  // not merely the baseline
      AddProblem(s, u.status());
    }
    auto m = memory_.Read();
    if (!m.ok()) {
      AddProblem(s, m.status());
      return s;
    }
    s.memory_utilization = m->utilization();
    s.memory_used_bytes = m->used_bytes;
    s.memory_total_bytes = m->limit_bytes;
    return s;
  }
  std::string Describe() const override { return description_; }

 private:
  std::string description_;
  CpuUsageMeter meter_;
  MemoryReader memory_;
};

class GpuStateSource final : public StateSource {
 public:
  GpuStateSource(std::shared_ptr<const NvmlLibrary> nvml, int index)
      : nvml_(std::move(nvml)), index_(index) {}

  RawState Read(TimePoint) override {
    RawState s;
    auto r = nvml_->Read(index_);
    if (!r.ok()) {
      AddProblem(s, r.status());
      return s;
    }
    s.utilization = r->utilization;
    s.memory_used_bytes = r->memory_used_bytes;
    s.memory_total_bytes = r->memory_total_bytes;
    if (r->memory_total_bytes > 0) {
      s.memory_utilization = double(r->memory_used_bytes) / double(r->memory_total_bytes);
    }
    return s;
  }
  std::string Describe() const override { return "NVML device " + std::to_string(index_); }

 private:
  std::shared_ptr<const NvmlLibrary> nvml_;
  int index_;
};

class SimulatedStateSource final : public StateSource {
 public:
  explicit SimulatedStateSource(std::shared_ptr<const SimulatedLoad> load)
      : load_(std::move(load)) {}

  RawState Read(TimePoint now) override {
    RawState s;
    const Duration busy = load_->busy_total();
    if (primed_ && now > last_time_) {
      double u = double((busy - last_busy_).count()) / double((now - last_time_).count());
      s.utilization = std::min(1.0, std::max(0.0, u));
    }
    primed_ = true;
    last_time_ = now;
    last_busy_ = busy;
    s.memory_used_bytes = load_->reserved_bytes();
    s.memory_total_bytes = load_->memory_bytes();
    s.memory_utilization = double(s.memory_used_bytes) / double(s.memory_total_bytes);
    return s;
  }
  std::string Describe() const override { return "simulated load (reported busy time)"; }

 private:
  std::shared_ptr<const SimulatedLoad> load_;
  bool primed_ = false;
  TimePoint last_time_;
  Duration last_busy_{0};
};

}  // namespace

std::unique_ptr<StateSource> NewCpuStateSource(std::vector<int> pus, const HostPaths& paths) {
  return std::make_unique<CpuStateSource>(std::move(pus), paths);
}

std::unique_ptr<StateSource> NewGpuStateSource(std::shared_ptr<const NvmlLibrary> nvml, int index) {
  return std::make_unique<GpuStateSource>(std::move(nvml), index);
}

std::unique_ptr<StateSource> NewSimulatedStateSource(std::shared_ptr<const SimulatedLoad> load) {
  return std::make_unique<SimulatedStateSource>(std::move(load));
}

Result<std::unique_ptr<StateSource>> NewStateSourceFor(const Processor& p, const HostPaths& paths,
                                                       std::shared_ptr<const NvmlLibrary> nvml) {
  if (p.simulated) {
    if (!p.load) return FailedPrecondition(p.id + ": simulated processor without a SimulatedLoad");
    return NewSimulatedStateSource(p.load);
  }
  if (p.kind == ProcessorKind::kCpu) return NewCpuStateSource(p.cores, paths);
  if (p.kind == ProcessorKind::kGpu && p.gpu_index >= 0) {
    if (!nvml) return FailedPrecondition(p.id + ": a GPU processor needs NVML");
    return NewGpuStateSource(std::move(nvml), p.gpu_index);
  }
  return Unimplemented(p.id + ": no state source for a real " +
                       std::string(ProcessorKindName(p.kind)));
}

}  // namespace batchwise
