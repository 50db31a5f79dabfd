#include "serving/engine_factory.h"

#include <filesystem>

#include "device/simulated.h"

namespace batchwise {
namespace {

class SimulatedProcessorEngine final : public Engine {
 public:
  SimulatedProcessorEngine(std::unique_ptr<Engine> inner, std::shared_ptr<SimulatedLoad> load,
                           std::shared_ptr<std::mutex> device_lock, uint64_t footprint,
                           Clock& clock)
      : inner_(std::move(inner)),
        load_(std::move(load)),
        device_lock_(std::move(device_lock)),
        footprint_(footprint),
        clock_(clock) {}
  ~SimulatedProcessorEngine() override { load_->Release(footprint_); }

  EngineKind kind() const override { return inner_->kind(); }
  const std::vector<TensorSpec>& inputs() const override { return inner_->inputs(); }
  const std::vector<TensorSpec>& outputs() const override { return inner_->outputs(); }
  size_t memory_footprint_bytes() const override { return footprint_; }
  bool simulated() const override { return true; }
  std::string Describe() const override { return inner_->Describe() + " [simulated processor]"; }

  Result<std::vector<Tensor>> Run(std::span<const Tensor> inputs) override {
    std::lock_guard<std::mutex> l(*device_lock_);
    const TimePoint start = clock_.Now();
    auto out = inner_->Run(inputs);
    load_->AddBusy(clock_.Now() - start);
    return out;
  }

 private:
  std::unique_ptr<Engine> inner_;
  std::shared_ptr<SimulatedLoad> load_;
  std::shared_ptr<std::mutex> device_lock_;
  const uint64_t footprint_;
  Clock& clock_;
};

std::string TableFile(const std::string& dir, const Processor& p) {
  std::string name = p.id;
  for (char& c : name) {
    if (c == ':' || c == '/') c = '_';
  }
  return (std::filesystem::path(dir) / (name + ".json")).string();
}

Result<std::unique_ptr<Engine>> CreateSimulated(const std::string& dir, const InstanceSpec& spec) {
  const Processor& p = *spec.processor;
  if (p.table == nullptr) return FailedPrecondition(p.id + " has no load-performance table");
  const std::string path = TableFile(dir, p);
  static std::mutex write_mu;
  {
    std::lock_guard<std::mutex> l(write_mu);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (!std::filesystem::exists(path)) BW_RETURN_IF_ERROR(p.table->Save(path));
  }
  EngineOptions o;
  o.model_path = path;
  o.target = spec.target;
  o.inputs = spec.config->inputs;
  o.outputs = spec.config->outputs;
  o.clock = spec.clock;
  return CreateEngine(EngineKind::kSimulated, o);
}

}  // namespace

EngineFactory DefaultEngineFactory(std::string table_dir) {
  return [dir = std::move(table_dir)](const InstanceSpec& spec) -> Result<std::unique_ptr<Engine>> {
    if (spec.processor->simulated) return CreateSimulated(dir, spec);
    const ModelEngineFile* file = spec.config->FindEngine(spec.engine);
    if (file == nullptr) {
      return NotFound("model '" + spec.config->name + "' has no " +
                      std::string(EngineKindName(spec.engine)) + " file");
    }
    EngineOptions o;
    o.model_path = file->path;
    o.optimize_for_inference = file->optimize_for_inference;
    o.target = spec.target;
    o.inputs = spec.config->inputs;
    o.outputs = spec.config->outputs;
    o.clock = spec.clock;
    return CreateEngine(spec.engine, o);
  };
}

Result<std::unique_ptr<Engine>> OnSimulatedProcessor(std::unique_ptr<Engine> engine,
                                                     const Processor& processor,
                                                     std::shared_ptr<std::mutex> device_lock,
                                                     uint64_t footprint_bytes, Clock& clock) {
  if (processor.load == nullptr) return FailedPrecondition(processor.id + " has no simulated load");
  BW_RETURN_IF_ERROR(processor.load->Reserve(footprint_bytes));
  return std::unique_ptr<Engine>(new SimulatedProcessorEngine(
      std::move(engine), processor.load, std::move(device_lock), footprint_bytes, clock));
}

}  // namespace batchwise
