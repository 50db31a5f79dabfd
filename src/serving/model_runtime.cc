#include "serving/model_runtime.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "serving/postprocess.h"
#include "serving/preprocess.h"

namespace batchwise {
namespace {

using nlohmann::json;

// An integer value of the "batching" section into `out`; errors name the key.
template <typename T>
Status ReadInteger(const json& v, const std::string& key, T& out) {
  if (!v.is_number_integer()) return InvalidArgument("batching." + key + " must be an integer");
  const bool fits = v.is_number_unsigned()
                        ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                        : v.get<int64_t>() >= std::numeric_limits<T>::min() &&
                              v.get<int64_t>() <= std::numeric_limits<T>::max();
  if (!fits) return InvalidArgument("batching." + key + " is out of range");
  out = static_cast<T>(v.get<int64_t>());
  return Status::Ok();
}

// A number (integer or not) of the "batching" section into `out`; errors name the key.
Status ReadNumber(const json& v, const std::string& key, double& out) {
  if (!v.is_number()) return InvalidArgument("batching." + key + " must be a number");
  out = v.get<double>();
  return Status::Ok();
}

Status ReadPolicy(const json& v, BatchPolicy& out) {
  if (!v.is_string()) return InvalidArgument("batching.policy must be a string");
  BW_ASSIGN_OR_RETURN(out, ParseBatchPolicy(v.get<std::string>()));
  return Status::Ok();
}

// One key of the "batching" section into `o`. The keys, their units and defaults are listed in
// docs/model-repository.md; ranges are checked once, by BatcherOptions::Validate().
Status ApplyBatchingKey(const std::string& key, const json& v, BatcherOptions& o) {
  ControllerOptions& c = o.controller;
  if (key == "policy") return ReadPolicy(v, c.policy);
  if (key == "max_queue_delay_micros") return ReadInteger(v, key, o.max_queue_delay_micros);
  if (key == "max_queue_size") return ReadInteger(v, key, o.max_queue_size);
  if (key == "default_timeout_micros") return ReadInteger(v, key, o.default_timeout_micros);
  if (key == "batch_size") return ReadInteger(v, key, c.fixed.batch_size);
  if (key == "initial_batch_size") return ReadInteger(v, key, c.initial_batch_size);
  if (key == "min_batch_size") return ReadInteger(v, key, c.min_batch_size);
  if (key == "step_size") return ReadInteger(v, key, c.step_size);
  if (key == "required_throughput_per_s") return ReadNumber(v, key, c.required_throughput_per_s);
  if (key == "trend_window") return ReadInteger(v, key, c.trend.window);
  if (key == "trend_alpha") return ReadNumber(v, key, c.trend.alpha);
  if (key == "reversal_confirmations") return ReadInteger(v, key, c.trend.reversal_confirmations);
  return InvalidArgument("batching has unknown key '" + key + "'");
}

Status ApplyBatchingSection(const json& j, BatcherOptions& o) {
  if (!j.is_object()) return InvalidArgument("batching must be an object");
  for (const auto& [key, value] : j.items()) BW_RETURN_IF_ERROR(ApplyBatchingKey(key, value, o));
  return Status::Ok();
}

// Keeps the defaults' sizes inside the model's maximum.
void FitToModel(const ModelConfig& config, BatcherOptions& o) {
  ControllerOptions& c = o.controller;
  c.max_batch_size = config.max_batch_size;
  c.min_batch_size = std::min(c.min_batch_size, c.max_batch_size);
  c.initial_batch_size = std::min(c.initial_batch_size, c.max_batch_size);
  c.fixed.batch_size = std::min(c.fixed.batch_size, c.max_batch_size);
  o.max_queue_size = std::max(o.max_queue_size, c.max_batch_size);
  if (config.latency_target_ms > 0) {
    c.latency_target_micros = static_cast<int64_t>(config.latency_target_ms * 1000);
  }
}

int IndexOf(const std::vector<TensorSpec>& specs, const std::string& name) {
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

bool TakesImages(const ModelConfig& config, const TensorSpec& spec) {
  return config.preprocess && config.preprocess->input == spec.name;
}

// The datatypes an input accepts, for error messages: "FP32", "FP32, or images as UINT8 or BYTES".
std::string Expected(const ModelConfig& config, const TensorSpec& spec) {
  std::string out(DataTypeName(spec.dtype));
  if (!TakesImages(config, spec)) return out;
  const char* separator = ", or images as ";
  for (DataType t : config.preprocess->accept) {
    out += separator + std::string(DataTypeName(t));
    separator = " or ";
  }
  return out;
}

Status CheckInput(const ModelConfig& config, const TensorSpec& spec, const Tensor& t) {
  if (t.dtype() != spec.dtype) {
    const bool raw = t.dtype() == DataType::kUint8 || t.dtype() == DataType::kBytes;
    const std::string hint = raw && !TakesImages(config, spec)
                                 ? " (raw images need a \"preprocess\" section in its config)"
                                 : "";
    return InvalidArgument("input '" + spec.name + "' has datatype " +
                           std::string(DataTypeName(t.dtype())) + ", model '" + config.name +
                           "' expects " + Expected(config, spec) + hint);
  }
  BW_RETURN_IF_ERROR(config.CheckShape(spec, t.shape()));
  Status s = t.Validate();
  return s.ok() ? s : InvalidArgument("input '" + spec.name + "': " + s.message());
}

// The input as the model takes it: a raw image form of the preprocessed input becomes the model's
// FP32 tensor (serving/preprocess.h); anything else is returned as is for CheckInput().
Result<Tensor> ToModelForm(const ModelConfig& config, const TensorSpec& spec, Tensor t,
                           std::vector<ImagePlacement>* placements) {
  if (!TakesImages(config, spec) || !IsRawImageInput(*config.preprocess, t)) return t;
  if (!t.shape().empty() && t.shape()[0] > config.max_batch_size) {
    return InvalidArgument("input '" + spec.name + "' has batch " + std::to_string(t.shape()[0]) +
                           ", above model '" + config.name + "' max_batch_size " +
                           std::to_string(config.max_batch_size));
  }
  return PreprocessImages(*config.preprocess, t, placements);
}

// Places each input at its declared position; checks names, dtypes and shapes. `placements` gets
// where each pre-processed image went (none for the model's own tensor).
Result<std::vector<Tensor>> OrderInputs(const ModelConfig& config, std::vector<NamedTensor>& inputs,
                                        std::vector<ImagePlacement>* placements) {
  std::vector<Tensor> ordered(config.inputs.size());
  std::vector<bool> seen(config.inputs.size(), false);
  for (NamedTensor& in : inputs) {
    const int i = IndexOf(config.inputs, in.name);
    if (i < 0) return InvalidArgument("model '" + config.name + "' has no input '" + in.name + "'");
    if (seen[i]) return InvalidArgument("input '" + in.name + "' given more than once");
    BW_ASSIGN_OR_RETURN(Tensor t,
                        ToModelForm(config, config.inputs[i], std::move(in.tensor), placements));
    BW_RETURN_IF_ERROR(CheckInput(config, config.inputs[i], t));
    seen[i] = true;
    ordered[i] = std::move(t);
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) return InvalidArgument("missing input '" + config.inputs[i].name + "'");
  }
  return ordered;
}

Result<int> CommonBatch(const ModelConfig& config, const std::vector<Tensor>& inputs) {
  if (inputs.empty()) return InvalidArgument("model '" + config.name + "' declares no inputs");
  const int64_t batch = inputs[0].shape()[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].shape()[0] != batch) {
      return InvalidArgument("inputs disagree on the batch size: '" + config.inputs[0].name +
                             "' has " + std::to_string(batch) + ", '" + config.inputs[i].name +
                             "' has " + std::to_string(inputs[i].shape()[0]));
    }
  }
  return static_cast<int>(batch);
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Asks for the post-processed output at `position` of the response: selects its source (hidden
// unless asked for too) and wraps the request's callback to add it (serving/postprocess.h).
void SelectClassification(const ModelConfig& config, size_t position, QueuedRequest& r) {
  const ClassificationPostprocess& post = *config.postprocess;
  const bool keep_source = Contains(r.output_names, post.source);
  if (!keep_source) {
    r.output_indices.push_back(config.OutputIndex(post.source));
    r.output_names.push_back(post.source);
  }
  r.done = WithClassification(post, position, keep_source, std::move(r.done));
}

// A detector's outputs: the engine's four are always computed (post-processing reads them all);
// the response keeps those asked for (all declared when none is named), in that order, and the
// label names output when named (serving/postprocess.h).
Status SelectDetection(const ModelConfig& config, const std::vector<std::string>& requested,
                       std::vector<ImagePlacement> placements, QueuedRequest& r) {
  const DetectionPostprocess& post = *config.detection;
  std::vector<std::string> returned = requested;
  for (const std::string& name : requested) {
    if (std::count(requested.begin(), requested.end(), name) > 1) {
      return InvalidArgument("output '" + name + "' requested more than once");
    }
    if (name != post.label_names_output && IndexOf(config.outputs, name) < 0) {
      return InvalidArgument("model '" + config.name + "' has no output '" + name + "'");
    }
  }
  for (size_t i = 0; i < config.outputs.size(); ++i) {
    r.output_indices.push_back(static_cast<int>(i));
    r.output_names.push_back(config.outputs[i].name);
    if (requested.empty()) returned.push_back(config.outputs[i].name);
  }
  r.done = WithDetection(post, std::move(placements), std::move(returned), std::move(r.done));
  return Status::Ok();
}

// Declared outputs to return, in the order asked for (all when none is named), plus the
// post-processed one when named.
Status SelectOutputs(const ModelConfig& config, const std::vector<std::string>& requested,
                     QueuedRequest& r) {
  if (requested.empty()) {
    for (size_t i = 0; i < config.outputs.size(); ++i) {
      r.output_indices.push_back(static_cast<int>(i));
      r.output_names.push_back(config.outputs[i].name);
    }
    return Status::Ok();
  }
  std::optional<size_t> classification;
  for (size_t pos = 0; pos < requested.size(); ++pos) {
    const std::string& name = requested[pos];
    if (std::count(requested.begin(), requested.end(), name) > 1) {
      return InvalidArgument("output '" + name + "' requested more than once");
    }
    if (config.postprocess && name == config.postprocess->output) {
      classification = pos;
      continue;
    }
    const int i = IndexOf(config.outputs, name);
    if (i < 0) return InvalidArgument("model '" + config.name + "' has no output '" + name + "'");
    r.output_indices.push_back(i);
    r.output_names.push_back(name);
  }
  if (classification) SelectClassification(config, *classification, r);
  return Status::Ok();
}

}  // namespace

Result<BatcherOptions> ModelBatchingOptions(const ModelConfig& config,
                                            const BatcherOptions& defaults) {
  BatcherOptions o = defaults;
  FitToModel(config, o);
  if (!config.batching_json.empty()) {
    json j = json::parse(config.batching_json, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return InvalidArgument("batching section is not valid JSON");
    Status s = ApplyBatchingSection(j, o);
    if (!s.ok()) return s.WithContext("model '" + config.name + "'");
  }
  Status s = o.Validate();
  if (!s.ok()) return s.WithContext("batching of model '" + config.name + "'");
  return o;
}

Result<PreparedRequest> PrepareRequest(const ModelConfig& config, InferRequest request,
                                       InferCallback done) {
  if (!done) return InvalidArgument("a request needs a completion callback");
  auto r = std::make_unique<QueuedRequest>();
  std::vector<ImagePlacement> placements;
  BW_ASSIGN_OR_RETURN(r->inputs, OrderInputs(config, request.inputs, &placements));
  BW_ASSIGN_OR_RETURN(int batch, CommonBatch(config, r->inputs));
  r->done = std::move(done);  // before SelectOutputs, which may wrap it
  BW_RETURN_IF_ERROR(
      config.detection
          ? SelectDetection(config, request.requested_outputs, std::move(placements), *r)
          : SelectOutputs(config, request.requested_outputs, *r));
  if (request.timeout < Duration::zero()) return InvalidArgument("timeout must be >= 0");
  r->model = config.name;
  r->model_version = config.version;
  r->id = std::move(request.id);
  r->timeout = request.timeout;
  r->received = request.received;
  return PreparedRequest{std::move(r), batch};
}

ModelRuntime::ModelRuntime(ModelConfig config, double expected_rate_per_s,
                           uint64_t memory_estimate_bytes, BatcherOptions batching)
    : config_(std::move(config)),
      expected_rate_per_s_(expected_rate_per_s),
      memory_estimate_bytes_(memory_estimate_bytes),
      batching_(std::move(batching)),
      stats_(config_.max_batch_size) {}

Status ModelRuntime::Route(std::unique_ptr<QueuedRequest>* request, int batch_size) {
  Status s = RouteToLeastLoaded(request, batch_size);
  if (!s.ok()) stats_.RecordRejected();
  return s;
}

Status ModelRuntime::CheckAdmission(int batch_size, TimePoint received) {
  std::lock_guard<std::mutex> l(mu_);
  ModelInstance* least = LeastLoadedLocked();
  if (least == nullptr) return FailedPrecondition("model '" + config_.name + "' is not ready");
  Status s = least->CheckAdmission(batch_size, received);
  if (!s.ok()) stats_.RecordRejected();
  return s;
}

Status ModelRuntime::RouteToLeastLoaded(std::unique_ptr<QueuedRequest>* request, int batch_size) {
  std::lock_guard<std::mutex> l(mu_);
  ModelInstance* least = LeastLoadedLocked();
  if (least == nullptr) return FailedPrecondition("model '" + config_.name + "' is not ready");
  return least->Submit(request, batch_size);
}

ModelInstance* ModelRuntime::LeastLoadedLocked() const {
  auto least = std::min_element(instances_.begin(), instances_.end(), [](auto& a, auto& b) {
    return a->in_flight_samples() < b->in_flight_samples();
  });
  return least == instances_.end() ? nullptr : least->get();
}

void ModelRuntime::Add(std::unique_ptr<ModelInstance> instance) {
  std::lock_guard<std::mutex> l(mu_);
  instances_.push_back(std::move(instance));
}

std::unique_ptr<ModelInstance> ModelRuntime::Replace(const std::string& processor_id,
                                                     std::unique_ptr<ModelInstance> fresh) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto& slot : instances_) {
    if (slot->processor_id() == processor_id) {
      std::swap(slot, fresh);
      return fresh;
    }
  }
  return nullptr;
}

std::vector<std::unique_ptr<ModelInstance>> ModelRuntime::TakeAll() {
  std::unique_lock<std::shared_mutex> admitted(admission_mu_);
  std::lock_guard<std::mutex> l(mu_);
  return std::exchange(instances_, {});
}

std::vector<std::string> ModelRuntime::ProcessorIds() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> ids;
  for (const auto& i : instances_) ids.push_back(i->processor_id());
  return ids;
}

std::vector<InstanceInfo> ModelRuntime::Infos() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<InstanceInfo> out;
  for (const auto& i : instances_) {
    out.push_back({config_.name, i->processor_id(), i->engine().Describe(), i->engine().simulated(),
                   i->in_flight_samples(), i->completed_requests(), i->busy_fraction()});
  }
  return out;
}

std::vector<BatcherState> ModelRuntime::BatcherStates() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<BatcherState> out;
  for (const auto& i : instances_) out.push_back(i->batcher_state());
  return out;
}

std::optional<ControllerState> ModelRuntime::ControllerOn(const std::string& processor_id) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& i : instances_) {
    if (i->processor_id() == processor_id) return i->batcher_state().controller;
  }
  return std::nullopt;
}

}  // namespace batchwise
