// HardwareMonitor: samples every processor's utilisation and memory utilisation on a period,
// smooths them (device/smoothing.h) and serves the latest state of all processors (step S2,
// docs/design.md §1).
//
// Thread-safe: Snapshot(), State(), rounds() and SampleOnce() may be called from any thread while
// the sampling thread runs; Start() and Stop() belong to the owner's thread.
// The monitor owns its sources and its sampling thread (a std::jthread started by Start(), stopped
// and joined by Stop() or the destructor). The Clock must outlive the monitor.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "device/processor.h"
#include "device/smoothing.h"
#include "device/state_source.h"

namespace batchwise {

// The latest state of one processor.
struct ProcessorState {
  std::string id;
  TimePoint timestamp{};  // monitor clock time of the latest sample; epoch before the first
  uint64_t samples = 0;   // samples taken since the monitor was created

  bool utilization_available = false;  // false: never read, or the latest read failed
  double utilization = 0;              // smoothed, [0,1]
  double utilization_raw = 0;          // the latest reading, [0,1]

  bool memory_available = false;
  double memory_utilization = 0;  // smoothed, [0,1]
  double memory_utilization_raw = 0;
  uint64_t memory_used_bytes = 0;  // latest reading
  uint64_t memory_total_bytes = 0;

  Status status;  // why a field is unavailable; OK when the latest sample read everything
};

class HardwareMonitor {
 public:
  struct Options {
    // Time between samples of the sampling thread. Must be > 0. Missed ticks are skipped.
    int64_t period_ms = 500;
    // Time constant tau of the EWMA (device/smoothing.h); 0 turns smoothing off. Must be >= 0.
    // With the default period each sample weighs 1 - exp(-0.5) = 0.39.
    int64_t smoothing_time_constant_ms = 1000;
  };

  struct Source {
    std::string processor_id;
    std::unique_ptr<StateSource> source;
  };

  // Validates the options and takes one baseline read of every source (not counted as a sample,
  // its values are not reported). InvalidArgument on bad options, duplicate ids or null sources.
  static Result<std::unique_ptr<HardwareMonitor>> Create(const Options& options, Clock& clock,
                                                         std::vector<Source> sources);
  ~HardwareMonitor();
  HardwareMonitor(const HardwareMonitor&) = delete;
  HardwareMonitor& operator=(const HardwareMonitor&) = delete;

  // Starts the sampling thread: a sample one period after Start(), then every period. No-op if
  // already running.
  void Start();
  // Stops and joins the sampling thread. No-op if not running.
  void Stop();

  // Takes one sample of every processor now (what the thread does each tick).
  void SampleOnce();

  // Every processor's latest state, in the order the sources were given.
  std::vector<ProcessorState> Snapshot() const;
  // One processor's latest state; NotFound for an unknown id.
  Result<ProcessorState> State(std::string_view processor_id) const;
  // Number of SampleOnce() rounds completed.
  uint64_t rounds() const;

 private:
  struct Tracked {
    std::unique_ptr<StateSource> source;
    Ewma utilization;
    Ewma memory;
  };

  HardwareMonitor(const Options& options, Clock& clock, std::vector<Source> sources);
  void Run(std::stop_token stop);
  bool SleepUntilTick(const std::stop_token& stop, TimePoint deadline);
  TimePoint NextTick(TimePoint previous) const;
  void ApplyLocked(size_t i, const RawState& raw, TimePoint now);

  const Duration period_;
  Clock& clock_;

  std::mutex sample_mu_;          // serialises sampling: only one round reads the sources at a time
  std::vector<Tracked> tracked_;  // guarded by sample_mu_

  mutable std::mutex mu_;
  std::vector<ProcessorState> states_;  // guarded by mu_
  uint64_t rounds_ = 0;                 // guarded by mu_

  std::mutex wait_mu_;            // pairs with wake_ for the sampling thread's sleeps
  std::condition_variable wake_;  // notified when a stop is requested
  std::jthread thread_;           // last member: stopped and joined before the rest is destroyed
};

// A monitor over `processors` with each one's source by kind (device/state_source.h).
Result<std::unique_ptr<HardwareMonitor>> CreateMonitorFor(
    const HardwareMonitor::Options& options, Clock& clock, const std::vector<Processor>& processors,
    const HostPaths& paths = {}, std::shared_ptr<const NvmlLibrary> nvml = nullptr);

}  // namespace batchwise
