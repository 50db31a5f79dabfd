// Test engines for the scheduler: FakeEngine answers each sample with its first input value
// (every output element of row i = first FP32 element of input row i), optionally waits a latency
// on the clock, and can be held at a gate so a test controls when batches finish.
// FakeEngineFactory hands them out and records what it was asked for. Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "serving/engine_factory.h"

namespace batchwise::testing {

// Blocks Run() while closed; tests open it.
class Gate {
 public:
  void Close();
  void Open();
  void Pass();  // waits (in real time) until open
  int waiting() const;
  void WaitForWaiting(int n) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
};

struct FakeEngineOptions {
  Duration latency{0};         // waited on the clock per batch
  Duration latency_per_sample{0};  // and this much more per sample of the batch
  uint64_t memory_bytes = 0;   // reported footprint
  std::shared_ptr<Gate> gate;  // null: never held
  // Called with every batch's inputs as the engine receives them (warm-up included); may be empty.
  std::function<void(std::span<const Tensor>)> on_run;
  bool fail_on_negative = false;  // Run() fails (INTERNAL) when a row's first value is < 0
  // Engine creation fails (INTERNAL) for the configs this returns true for; may be empty.
  std::function<bool(const ModelConfig&)> fail_load;
  // The same, by config and processor id.
  std::function<bool(const ModelConfig&, const std::string&)> fail_load_on;
};

class FakeEngineFactory {
 public:
  explicit FakeEngineFactory(FakeEngineOptions options = {}) : options_(std::move(options)) {}

  EngineFactory AsFactory();

  struct Created {
    std::string model;
    std::string processor;
    EngineKind engine;
    ExecutionTarget target;
  };
  std::vector<Created> created() const;

 private:
  FakeEngineOptions options_;
  mutable std::mutex mu_;
  std::vector<Created> created_;
};

}  // namespace batchwise::testing
