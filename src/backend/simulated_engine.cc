#include "backend/simulated_engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/engine_util.h"
#include "common/perf_table.h"

namespace batchwise {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t Fnv1a(std::span<const std::byte> bytes, uint64_t h) {
  for (std::byte b : bytes) h = (h ^ static_cast<uint64_t>(b)) * 0x100000001b3ULL;
  return h;
}

// Hash of one sample (row `i` of the batch) over every input: equal samples give equal outputs
// whatever batch they arrive in.
uint64_t SampleHash(std::span<const Tensor> inputs, int64_t i) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const Tensor& t : inputs) {
    size_t row = t.byte_size() / static_cast<size_t>(t.shape()[0]);
    h = Fnv1a(t.bytes().subspan(static_cast<size_t>(i) * row, row), h);
  }
  return h;
}

void FillSample(uint64_t seed, std::span<std::byte> out, DataType dtype) {
  if (dtype == DataType::kFp32) {
    for (size_t j = 0; j < out.size() / 4; ++j) {
      float v = static_cast<float>(SplitMix64(seed + j) >> 40) / float(1 << 23) - 1.0f;  // [-1,1)
      std::memcpy(out.data() + 4 * j, &v, 4);
    }
    return;
  }
  for (size_t j = 0; j < out.size(); ++j) out[j] = static_cast<std::byte>(SplitMix64(seed + j));
}

// A processor that does not compute: Run() waits the table's latency on the clock and returns
// deterministic outputs of the declared shapes. Thread-safe (no mutable state); owns its table.
class SimulatedEngine final : public Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options);

  EngineKind kind() const override { return EngineKind::kSimulated; }
  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  Result<std::vector<Tensor>> Run(std::span<const Tensor> inputs) override;
  size_t memory_footprint_bytes() const override { return memory_bytes_; }
  bool simulated() const override { return true; }
  std::string Describe() const override;

 private:
  Tensor MakeOutput(const TensorSpec& spec, std::span<const Tensor> inputs, int64_t batch,
                    uint64_t salt) const;

  std::string path_;
  PerfTable table_;
  int instances_ = 1;
  Clock* clock_ = nullptr;
  std::vector<TensorSpec> inputs_;
  std::vector<TensorSpec> outputs_;
  size_t memory_bytes_ = 0;
};

Status CheckSimulatedSpecs(const EngineOptions& options) {
  if (options.inputs.empty() || options.outputs.empty()) {
    return InvalidArgument("simulated engine: inputs and outputs must be declared (no model file)");
  }
  BW_RETURN_IF_ERROR(CheckSpecs(options.inputs, "input"));
  BW_RETURN_IF_ERROR(CheckSpecs(options.outputs, "output"));
  for (const auto& s : options.outputs) {
    if (DataTypeSize(s.dtype) == 0) return InvalidArgument("simulated engine: BYTES outputs are not supported");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Engine>> SimulatedEngine::Create(const EngineOptions& options) {
  BW_RETURN_IF_ERROR(CheckSimulatedSpecs(options));
  BW_RETURN_IF_ERROR(CheckModelFile(options.model_path));
  BW_ASSIGN_OR_RETURN(PerfTable table, PerfTable::Load(options.model_path));
  BW_RETURN_IF_ERROR(table.LatencyMs(1, options.simulated_instances).status());
  auto e = std::make_unique<SimulatedEngine>();
  e->path_ = options.model_path;
  e->instances_ = options.simulated_instances;
  e->clock_ = options.clock != nullptr ? options.clock : &SystemClock();
  e->inputs_ = options.inputs;
  e->outputs_ = options.outputs;
  uint64_t table_bytes = 0;
  for (const auto& c : table.Row(options.simulated_instances)) table_bytes = std::max(table_bytes, c.memory_bytes);
  e->memory_bytes_ = table_bytes > 0 ? table_bytes : options.simulated_memory_bytes;
  e->table_ = std::move(table);
  return std::unique_ptr<Engine>(std::move(e));
}

Tensor SimulatedEngine::MakeOutput(const TensorSpec& spec, std::span<const Tensor> inputs,
                                   int64_t batch, uint64_t salt) const {
  Tensor out = Tensor::Allocate(spec.dtype, BatchShape(spec, batch));
  std::span<std::byte> bytes(out.mutable_data(), out.byte_size());
  size_t row = out.byte_size() / static_cast<size_t>(batch);
  for (int64_t i = 0; i < batch; ++i) {
    FillSample(SplitMix64(SampleHash(inputs, i) ^ salt), bytes.subspan(i * row, row), spec.dtype);
  }
  return out;
}

Result<std::vector<Tensor>> SimulatedEngine::Run(std::span<const Tensor> inputs) {
  BW_ASSIGN_OR_RETURN(int64_t batch, CheckBatch(inputs_, inputs));
  BW_ASSIGN_OR_RETURN(double latency_ms, table_.LatencyMs(static_cast<double>(batch), instances_));
  TimePoint done = clock_->Now() + std::chrono::duration_cast<Duration>(
                                       std::chrono::duration<double, std::milli>(latency_ms));
  std::vector<Tensor> outputs;
  for (size_t k = 0; k < outputs_.size(); ++k) outputs.push_back(MakeOutput(outputs_[k], inputs, batch, k));
  clock_->SleepUntil(done);  // blocks without using the CPU
  return outputs;
}

std::string SimulatedEngine::Describe() const {
  return "simulated " + table_.processor_id + " (" + table_.model_name + " latency from " +
         ShortPath(path_) + ", " + std::to_string(instances_) + " instance row): simulated";
}

}  // namespace

Result<std::unique_ptr<Engine>> CreateSimulatedEngine(const EngineOptions& options) {
  return SimulatedEngine::Create(options);
}

}  // namespace batchwise
