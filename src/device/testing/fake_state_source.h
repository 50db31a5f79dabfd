// ScriptedStateSource: a StateSource that returns readings a test queues, and records the times it
// was read at. The script is shared with the test (the monitor owns the source), so it is guarded
// by a mutex: the monitor's thread reads while the test thread queues.
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "device/state_source.h"

namespace batchwise::testing {

struct SourceScript {
  std::mutex mu;
  std::deque<RawState> readings;   // guarded by mu; popped one per Read, the last one repeats
  std::vector<TimePoint> read_at;  // guarded by mu
};

class ScriptedStateSource final : public StateSource {
 public:
  explicit ScriptedStateSource(std::shared_ptr<SourceScript> script) : script_(std::move(script)) {}

  RawState Read(TimePoint now) override {
    std::lock_guard<std::mutex> l(script_->mu);
    script_->read_at.push_back(now);
    if (script_->readings.empty()) return RawState{};
    RawState r = script_->readings.front();
    if (script_->readings.size() > 1) script_->readings.pop_front();
    return r;
  }
  std::string Describe() const override { return "scripted"; }

 private:
  std::shared_ptr<SourceScript> script_;
};

inline RawState Reading(double utilization, double memory_utilization) {
  RawState r;
  r.utilization = utilization;
  r.memory_utilization = memory_utilization;
  r.memory_used_bytes = static_cast<uint64_t>(memory_utilization * 1000);
  r.memory_total_bytes = 1000;
  return r;
}

}  // namespace batchwise::testing
