#include "serving/testing/scheduler_harness.h"

#include <gtest/gtest.h>

namespace batchwise::testing {

Processor CpuProcessor(const std::string& id, std::vector<int> cores, uint64_t memory) {
  Processor p;
  p.id = id;
  p.kind = ProcessorKind::kCpu;
  p.cores = std::move(cores);
  p.memory_bytes = memory;
  return p;
}

PerfTable TableWithPerformance(double per_s, int instances) {
  PerfTable t;
  t.model_name = "resnet50";
  double best = per_s / (1 + 0.2 * (instances - 1));
  for (int k = 1; k <= instances; ++k, best *= 1.2) {
    t.cells.push_back({.batch_size = 1,
                       .instances = k,
                       .throughput = best / 2,
                       .latency_avg_ms = 1000.0 * k / (best / 2)});
    t.cells.push_back(
        {.batch_size = 8, .instances = k, .throughput = best, .latency_avg_ms = 8000.0 * k / best});
  }
  return t;
}

ModelConfig TinyModel(const std::string& name, int max_batch_size) {
  ModelConfig c;
  c.name = name;
  c.max_batch_size = max_batch_size;
  c.inputs = {{"x", DataType::kFp32, {-1, 4}}};
  c.outputs = {{"y", DataType::kFp32, {-1, 2}}};
  c.engines = {{EngineKind::kOnnx, "/nonexistent/" + name + "/model.onnx"}};
  return c;
}

RawState Load(double u, double used_gib, double total_gib) {
  RawState r;
  r.utilization = u;
  r.memory_used_bytes = static_cast<uint64_t>(used_gib * kGiB);
  r.memory_total_bytes = static_cast<uint64_t>(total_gib * kGiB);
  r.memory_utilization = used_gib / total_gib;
  return r;
}

Scheduler::Options ImmediateOptions() {
  Scheduler::Options o;
  o.batching.controller.policy = BatchPolicy::kQueueDelay;
  o.batching.max_queue_delay_micros = 0;
  o.warmup_batches = 1;
  o.rebalance_period_ms = 0;
  return o;
}

InferRequest Request(const std::string& model, float value, int batch) {
  std::vector<float> v(4 * batch, value);
  InferRequest r;
  r.model = model;
  r.id = std::to_string(value);
  r.inputs.push_back({"x", Tensor::FromFloats({batch, 4}, v)});
  return r;
}

InferCallback Collector::Callback() {
  return [this](Status s, InferResponse r) {
    std::lock_guard<std::mutex> l(mu_);
    results_.emplace_back(std::move(s), std::move(r));
    cv_.notify_all();
  };
}

void Collector::WaitFor(size_t n) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return results_.size() >= n; });
}

std::vector<std::pair<Status, InferResponse>> Collector::results() {
  std::lock_guard<std::mutex> l(mu_);
  return results_;
}

Harness::Harness(std::vector<Processor> processors, std::map<std::string, PerfTable> profiles,
                 Scheduler::Options options, FakeEngineOptions engine)
    : factory(std::move(engine)) {
  std::vector<HardwareMonitor::Source> sources;
  for (const auto& p : processors) {
    if (p.simulated && p.load != nullptr) {  // simulated processors report their own load
      sources.push_back({p.id, NewSimulatedStateSource(p.load)});
      continue;
    }
    auto script = std::make_shared<SourceScript>();
    script->readings.push_back(Load(0));
    scripts[p.id] = script;
    sources.push_back({p.id, std::make_unique<ScriptedStateSource>(script)});
  }
  HardwareMonitor::Options mo;
  mo.smoothing_time_constant_ms = 0;  // readings as scripted
  auto monitor = HardwareMonitor::Create(mo, clock, std::move(sources));
  EXPECT_TRUE(monitor.ok()) << monitor.status();
  (*monitor)->SampleOnce();
  SchedulerHardware hw{std::move(processors), std::move(monitor).value(), std::move(profiles)};
  auto s = Scheduler::Create(options, clock, std::move(hw), factory.AsFactory());
  EXPECT_TRUE(s.ok()) << s.status();
  scheduler = std::move(s).value();
}

void Harness::Set(const std::string& processor, RawState state) {
  {
    std::lock_guard<std::mutex> l(scripts.at(processor)->mu);
    scripts.at(processor)->readings = {state};
  }
  scheduler->monitor()->SampleOnce();
}

}  // namespace batchwise::testing
