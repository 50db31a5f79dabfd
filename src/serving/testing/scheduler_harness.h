// Shared fixtures for scheduler tests: processors, tables, tiny models, a scripted monitor and a
// collector of completions. Tests block on the collector (real time) for events, never for time.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "device/testing/fake_state_source.h"
#include "serving/scheduler.h"
#include "serving/testing/fake_engine.h"

namespace batchwise::testing {

constexpr uint64_t kGiB = 1ull << 30;

Processor CpuProcessor(const std::string& id, std::vector<int> cores, uint64_t memory = 16 * kGiB);
// A reference-model table whose best throughput is `per_s`; with `instances` > 1 each extra
// instance adds 20 %, so MaxUsefulInstances() == instances.
PerfTable TableWithPerformance(double per_s, int instances = 1);
// Input "x" FP32 [-1,4], output "y" FP32 [-1,2]; an ONNX file that does not exist.
ModelConfig TinyModel(const std::string& name, int max_batch_size = 8);
// A reading with utilisation `u` and `used_gib` of `total_gib` memory used.
RawState Load(double u, double used_gib = 1, double total_gib = 16);
// Batches dispatch as soon as a request arrives (queue_delay policy, zero delay), 1 warm-up.
Scheduler::Options ImmediateOptions();

// Request with one input row per `batch` filled with `value`.
InferRequest Request(const std::string& model, float value, int batch = 1);

class Collector {
 public:
  InferCallback Callback();
  void WaitFor(size_t n);
  std::vector<std::pair<Status, InferResponse>> results();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<Status, InferResponse>> results_;
};

// A scheduler over `processors` whose monitor reads scripted states (simulated processors: their
// SimulatedLoad).
struct Harness {
  Harness(std::vector<Processor> processors, std::map<std::string, PerfTable> profiles,
          Scheduler::Options options = ImmediateOptions(), FakeEngineOptions engine = {});
  // Sets the reading of one processor and samples the monitor once.
  void Set(const std::string& processor, RawState state);

  FakeClock clock;
  FakeEngineFactory factory;
  std::map<std::string, std::shared_ptr<SourceScript>> scripts;
  std::unique_ptr<Scheduler> scheduler;
};

}  // namespace batchwise::testing
