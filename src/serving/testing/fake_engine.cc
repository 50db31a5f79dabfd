#include "serving/testing/fake_engine.h"

#include <cstring>

namespace batchwise::testing {

void Gate::Close() {
  std::lock_guard<std::mutex> l(mu_);
  open_ = false;
}
void Gate::Open() {
  std::lock_guard<std::mutex> l(mu_);
  open_ = true;
  cv_.notify_all();
}
void Gate::Pass() {
  std::unique_lock<std::mutex> l(mu_);
  ++waiting_;
  cv_.notify_all();
  cv_.wait(l, [this] { return open_; });
  --waiting_;
}
int Gate::waiting() const {
  std::lock_guard<std::mutex> l(mu_);
  return waiting_;
}
void Gate::WaitForWaiting(int n) const {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return waiting_ >= n; });
}

namespace {

class FakeEngine final : public Engine {
 public:
  FakeEngine(std::vector<TensorSpec> in, std::vector<TensorSpec> out, FakeEngineOptions o,
             Clock* clock, std::string where)
      : in_(std::move(in)),
        out_(std::move(out)),
        o_(std::move(o)),
        clock_(clock),
        where_(std::move(where)) {}

  EngineKind kind() const override { return EngineKind::kOnnx; }
  const std::vector<TensorSpec>& inputs() const override { return in_; }
  const std::vector<TensorSpec>& outputs() const override { return out_; }
  size_t memory_footprint_bytes() const override { return o_.memory_bytes; }
  std::string Describe() const override { return "fake on " + where_; }

  Result<std::vector<Tensor>> Run(std::span<const Tensor> inputs) override {
    if (inputs.size() != in_.size()) return InvalidArgument("wrong number of inputs");
    if (o_.on_run) o_.on_run(inputs);
    if (o_.gate) o_.gate->Pass();
    const int64_t batch = inputs[0].shape()[0];
    const Duration latency = o_.latency + batch * o_.latency_per_sample;
    if (latency > Duration::zero()) clock_->SleepFor(latency);
    const auto first = inputs[0].as<float>();
    const size_t row_in = first.size() / batch;
    for (int64_t i = 0; o_.fail_on_negative && i < batch; ++i) {
      if (first[i * row_in] < 0) return Internal("fake engine failure (negative input)");
    }
    std::vector<Tensor> outs;
    for (const auto& spec : out_) {
      Shape shape = spec.shape;
      shape[0] = batch;
      Tensor t = Tensor::Allocate(DataType::kFp32, shape);
      auto v = t.mutable_as<float>();
      const size_t row_out = v.size() / batch;
      for (int64_t i = 0; i < batch; ++i) {
        for (size_t j = 0; j < row_out; ++j) v[i * row_out + j] = first[i * row_in];
      }
      outs.push_back(std::move(t));
    }
    return outs;
  }

 private:
  std::vector<TensorSpec> in_, out_;
  FakeEngineOptions o_;
  Clock* clock_;
  std::string where_;
};

}  // namespace

EngineFactory FakeEngineFactory::AsFactory() {
  return [this](const InstanceSpec& spec) -> Result<std::unique_ptr<Engine>> {
    {
      std::lock_guard<std::mutex> l(mu_);
      created_.push_back({spec.config->name, spec.processor->id, spec.engine, spec.target});
    }
    if ((options_.fail_load && options_.fail_load(*spec.config)) ||
        (options_.fail_load_on && options_.fail_load_on(*spec.config, spec.processor->id))) {
      return Internal("fake engine: cannot load '" + spec.config->name + "' on " +
                      spec.processor->id);
    }
    return std::unique_ptr<Engine>(new FakeEngine(spec.config->inputs, spec.config->outputs,
                                                  options_, spec.clock, spec.processor->id));
  };
}

std::vector<FakeEngineFactory::Created> FakeEngineFactory::created() const {
  std::lock_guard<std::mutex> l(mu_);
  return created_;
}

}  // namespace batchwise::testing
