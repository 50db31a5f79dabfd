#include "device/monitor.h"

#include <set>

namespace batchwise {
namespace {

Status ValidateSources(const std::vector<HardwareMonitor::Source>& sources) {
  std::set<std::string> ids;
  for (const auto& s : sources) {
    if (!s.source) return InvalidArgument("monitor source for '" + s.processor_id + "' is null");
    if (!ids.insert(s.processor_id).second) {
      return InvalidArgument("two monitor sources for processor '" + s.processor_id + "'");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<HardwareMonitor>> HardwareMonitor::Create(const Options& options,
                                                                 Clock& clock,
                                                                 std::vector<Source> sources) {
  if (options.period_ms <= 0) return InvalidArgument("monitor period_ms must be > 0");
  if (options.smoothing_time_constant_ms < 0) {
    return InvalidArgument("monitor smoothing_time_constant_ms must be >= 0");
  }
  BW_RETURN_IF_ERROR(ValidateSources(sources));
  return std::unique_ptr<HardwareMonitor>(new HardwareMonitor(options, clock, std::move(sources)));
}

HardwareMonitor::HardwareMonitor(const Options& options, Clock& clock, std::vector<Source> sources)
    : period_(std::chrono::milliseconds(options.period_ms)), clock_(clock) {
  const Duration tau = std::chrono::milliseconds(options.smoothing_time_constant_ms);
  const TimePoint now = clock_.Now();
  for (auto& s : sources) {
    s.source->Read(now);  // baseline for interval-based sources; values discarded
    tracked_.push_back({std::move(s.source), Ewma(tau), Ewma(tau)});
    ProcessorState state;
    state.id = s.processor_id;
    state.status = Unavailable("not sampled yet");
    states_.push_back(std::move(state));
  }
}

HardwareMonitor::~HardwareMonitor() { Stop(); }

void HardwareMonitor::Start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

void HardwareMonitor::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

void HardwareMonitor::Run(std::stop_token stop) {
  std::stop_callback wake_on_stop(stop, [this] {
    std::lock_guard<std::mutex> l(wait_mu_);
    wake_.notify_all();
  });
  TimePoint next = clock_.Now() + period_;
  while (SleepUntilTick(stop, next)) {
    SampleOnce();
    next = NextTick(next);
  }
}

bool HardwareMonitor::SleepUntilTick(const std::stop_token& stop, TimePoint deadline) {
  std::unique_lock<std::mutex> l(wait_mu_);
  while (!stop.stop_requested()) {
    if (clock_.WaitUntil(l, wake_, deadline)) return !stop.stop_requested();
  }
  return false;
}

TimePoint HardwareMonitor::NextTick(TimePoint previous) const {
  const TimePoint next = previous + period_;
  const TimePoint now = clock_.Now();
  return next > now ? next : now + period_;  // fell behind: skip the missed ticks
}

void HardwareMonitor::SampleOnce() {
  std::lock_guard<std::mutex> sampling(sample_mu_);
  const TimePoint now = clock_.Now();
  std::vector<RawState> raw;
  for (auto& t : tracked_) raw.push_back(t.source->Read(now));
  std::lock_guard<std::mutex> l(mu_);
  for (size_t i = 0; i < raw.size(); ++i) ApplyLocked(i, raw[i], now);
  ++rounds_;
}

void HardwareMonitor::ApplyLocked(size_t i, const RawState& raw, TimePoint now) {
  ProcessorState& s = states_[i];
  Tracked& t = tracked_[i];
  s.timestamp = now;
  ++s.samples;
  s.status = raw.status;
  s.utilization_available = raw.utilization.has_value();
  if (raw.utilization) {
    s.utilization_raw = *raw.utilization;
    s.utilization = t.utilization.Add(*raw.utilization, now);
  }
  s.memory_available = raw.memory_utilization.has_value();
  if (raw.memory_utilization) {
    s.memory_utilization_raw = *raw.memory_utilization;
    s.memory_utilization = t.memory.Add(*raw.memory_utilization, now);
    s.memory_used_bytes = raw.memory_used_bytes;
    s.memory_total_bytes = raw.memory_total_bytes;
  }
}

std::vector<ProcessorState> HardwareMonitor::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  return states_;
}

Result<ProcessorState> HardwareMonitor::State(std::string_view processor_id) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& s : states_) {
    if (s.id == processor_id) return s;
  }
  return NotFound("no processor '" + std::string(processor_id) + "' in the monitor");
}

uint64_t HardwareMonitor::rounds() const {
  std::lock_guard<std::mutex> l(mu_);
  return rounds_;
}

Result<std::unique_ptr<HardwareMonitor>> CreateMonitorFor(const HardwareMonitor::Options& options,
                                                          Clock& clock,
                                                          const std::vector<Processor>& processors,
                                                          const HostPaths& paths,
                                                          std::shared_ptr<const NvmlLibrary> nvml) {
  std::vector<HardwareMonitor::Source> sources;
  for (const Processor& p : processors) {
    BW_ASSIGN_OR_RETURN(auto source, NewStateSourceFor(p, paths, nvml));
    sources.push_back({p.id, std::move(source)});
  }
  return HardwareMonitor::Create(options, clock, std::move(sources));
}

}  // namespace batchwise
