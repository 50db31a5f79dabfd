#include "service/inference_service.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "backend/engine.h"
#include "common/thread_annotations.h"
#include "repository/triton_config.h"

namespace batchwise {

// Runs repository loads and unloads, one at a time, off the protocols' threads.
class InferenceService::AdminQueue {
 public:
  AdminQueue() : thread_([this](std::stop_token stop) { Run(stop); }) {}
  ~AdminQueue() {
    thread_.request_stop();
    {
      std::lock_guard<std::mutex> l(mu_);
      cv_.notify_all();
    }
    thread_.join();
  }
  void Post(std::function<void()> job) {
    std::lock_guard<std::mutex> l(mu_);
    jobs_.push_back(std::move(job));
    cv_.notify_all();
  }

 private:
  // Takes jobs until stopped and the queue is empty (queued jobs still run: each answers a
  // request).
  void Run(std::stop_token stop) {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return !jobs_.empty() || stop.stop_requested(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_ GUARDED_BY(mu_);
  std::jthread thread_;
};

namespace {

// A model without a batch dimension (ModelConfig::batch_dimension false) takes its tensors with
// their full shapes: the leading dimension Batchwise batches on is 1.
std::vector<TensorSpec> FullShapes(std::vector<TensorSpec> specs, bool batch_dimension) {
  if (batch_dimension) return specs;
  for (auto& t : specs) {
    if (!t.shape.empty()) t.shape[0] = 1;
  }
  return specs;
}

// Triton's dims: without the batch dimension, or the full shape when there is none.
std::vector<TritonTensorConfig> TritonTensors(const std::vector<TensorSpec>& specs,
                                              bool batch_dimension) {
  std::vector<TritonTensorConfig> out;
  for (const auto& t : FullShapes(specs, batch_dimension)) {
    const size_t skip = batch_dimension && !t.shape.empty() ? 1 : 0;
    out.push_back({t.name, t.dtype, Shape(t.shape.begin() + skip, t.shape.end())});
  }
  return out;
}

}  // namespace

std::string TritonTypeName(DataType dtype) {
  if (dtype == DataType::kBytes) return "TYPE_STRING";
  return "TYPE_" + std::string(DataTypeName(dtype));
}

InferenceService::InferenceService(Options options, Scheduler& scheduler, ServerMetrics* metrics,
                                   Clock& clock)
    : options_(std::move(options)),
      scheduler_(scheduler),
      metrics_(metrics),
      clock_(clock),
      admin_(std::make_unique<AdminQueue>()) {}

InferenceService::~InferenceService() = default;

// --- Readiness ---

std::string InferenceService::NotReadyReason() const {
  if (!ready_.load(std::memory_order_acquire)) {
    return "the server is not ready (starting or shutting down)";
  }
  std::lock_guard<std::mutex> l(failed_mu_);
  if (failed_.empty()) return "";
  std::string why = "the server is not ready: ";
  for (auto it = failed_.begin(); it != failed_.end(); ++it) {
    why += (it == failed_.begin() ? "model '" : "; model '") + it->first +
           "' failed to load: " + it->second;
  }
  return why;
}

Status InferenceService::ModelReadiness(const std::string& model) const {
  if (scheduler_.IsLoaded(model)) return Status::Ok();
  if (InRepository(model)) return FailedPrecondition("model '" + model + "' is not ready");
  return NotFound("unknown model '" + model + "'");
}

Status InferenceService::CheckLoaded(const std::string& model) const {
  if (scheduler_.IsLoaded(model)) return Status::Ok();
  return NotFound(InRepository(model) ? "model '" + model + "' is not loaded"
                                      : "unknown model '" + model + "'");
}

bool InferenceService::InRepository(const std::string& model) const {
  return IsModelFolder((std::filesystem::path(options_.model_repository) / model).string());
}

// --- Names and versions ---

Status InferenceService::CheckModelName(const std::string& model) {
  bool ok = !model.empty() && model != "." && model != ".." && model.size() <= 256;
  for (unsigned char c : model) ok = ok && c >= 0x20 && c != '/' && c != '\\' && c != 0x7f;
  if (!ok) return InvalidArgument("'" + model + "' is not a valid model name");
  return Status::Ok();
}

Status InferenceService::CheckModelVersion(const std::string& model,
                                           const std::string& version) const {
  if (version.empty()) return Status::Ok();
  bool numeric = version.size() <= 18;
  for (char c : version) numeric = numeric && c >= '0' && c <= '9';
  if (!numeric) return InvalidArgument("model version '" + version + "' is not a number");
  auto config = scheduler_.LoadedConfig(model);
  if (!config.ok() || std::stoll(version) == config->version) return Status::Ok();
  return NotFound("model '" + model + "' has no version " + version + " loaded (it serves version " +
                  std::to_string(config->version) + "; Batchwise serves one version per model)");
}

// --- Metadata, configuration, statistics ---

const std::vector<std::string>& InferenceService::Extensions() {
  static const std::vector<std::string> kExtensions = {"binary_tensor_data", "model_configuration",
                                                       "statistics",         "model_repository",
                                                       "parameters",         "batchwise",
                                                       "system_shared_memory"};
  return kExtensions;
}

Result<ModelMetadata> InferenceService::Metadata(const std::string& model) const {
  BW_ASSIGN_OR_RETURN(ModelConfig c, scheduler_.LoadedConfig(model));
  return ModelMetadata{c.name, {std::to_string(c.version)}, PlatformName(c),
                       FullShapes(c.inputs, c.batch_dimension),
                       FullShapes(c.outputs, c.batch_dimension)};
}

Result<ModelConfig> InferenceService::LoadedModel(const std::string& model) const {
  return scheduler_.LoadedConfig(model);
}

// The engine that runs the model, by name: the ONNX engine is OpenCV's DNN module, not ONNX
// Runtime, so it is not reported as onnxruntime_onnx (docs/model-repository.md).
std::string InferenceService::PlatformName(const ModelConfig& config) {
  if (config.engines.empty()) return "batchwise";
  return config.engines[0].engine == EngineKind::kTorchScript ? "pytorch_libtorch" : "opencv_dnn";
}

Result<TritonModelConfig> InferenceService::TritonConfig(const std::string& model) const {
  BW_ASSIGN_OR_RETURN(ModelConfig c, scheduler_.LoadedConfig(model));
  TritonModelConfig t;
  t.name = c.name;
  t.platform = PlatformName(c);
  t.backend = c.engines.empty()                                 ? "batchwise"
              : c.engines[0].engine == EngineKind::kTorchScript ? "pytorch"
                                                                : "opencv";
  t.max_batch_size = c.batch_dimension ? c.max_batch_size : 0;  // 0: no batch dimension
  t.inputs = TritonTensors(c.inputs, c.batch_dimension);
  t.outputs = TritonTensors(c.outputs, c.batch_dimension);
  for (const auto& i : scheduler_.Instances(model)) {
    t.instance_groups.push_back({i.processor, i.simulated ? "KIND_MODEL" : "KIND_CPU", 1});
  }
  t.parameters = {{"batchwise_kind", c.kind},
                  {"batchwise_latency_target_ms", std::to_string(c.latency_target_ms)}};
  for (const auto& e : c.engines) t.engines.emplace_back(EngineKindName(e.engine));
  t.processor_kinds = c.processor_kinds;
  return t;
}

Result<nlohmann::json> InferenceService::StatsJson(const std::string& model) const {
  return scheduler_.StatsJson(model);
}

nlohmann::json InferenceService::PlacementsJson(const std::string& model) const {
  return scheduler_.PlacementsJson(model);
}

nlohmann::json InferenceService::ProcessorsJson() const { return scheduler_.ProcessorsJson(); }

nlohmann::json InferenceService::ModelsJson() const { return scheduler_.ModelsJson(); }

// --- Inference ---

Status InferenceService::SubmitInfer(InferRequest request, InferCallback done) {
  BW_RETURN_IF_ERROR(CheckLoaded(request.model));
  return scheduler_.Infer(std::move(request), std::move(done));
}

Status InferenceService::AdmitBeforeBody(const std::string& model, TimePoint received) const {
  Status s = scheduler_.CheckAdmission(model, 1, received);
  if (s.code() != StatusCode::kUnavailable) return Status::Ok();
  RecordInferOutcome(model, s, received);
  return s;
}

void InferenceService::RecordInferOutcome(const std::string& model, const Status& outcome,
                                          TimePoint start) const {
  if (metrics_ == nullptr || outcome.code() == StatusCode::kNotFound) return;
  metrics_->RecordInfer(model, outcome.ok(), clock_.Now() - start);
}

// --- Repository ---

Result<std::vector<InferenceService::RepositoryEntry>> InferenceService::RepositoryIndex(
    bool ready_only) const {
  BW_ASSIGN_OR_RETURN(auto folders, ListModelFolders(options_.model_repository));
  std::vector<RepositoryEntry> out;
  for (const auto& folder : folders) {
    RepositoryEntry e;
    e.name = std::filesystem::path(folder).filename().string();
    auto loaded = scheduler_.LoadedConfig(e.name);
    if (ready_only && !loaded.ok()) continue;
    if (loaded.ok()) e.version = std::to_string(loaded->version);
    e.state = loaded.ok() ? "READY" : "UNAVAILABLE";
    if (!loaded.ok()) e.reason = ClientMessage(FailedLoad(e.name).value_or("unloaded"));
    out.push_back(std::move(e));
  }
  return out;
}

Status InferenceService::AuthorizeAdmin(const std::string* authorization) const {
  if (options_.admin_token.empty()) return Status::Ok();
  const std::string want = "Bearer " + options_.admin_token;
  const std::string* h = authorization;
  bool same = h != nullptr && h->size() == want.size();
  unsigned char diff = 0;
  for (size_t i = 0; same && i < want.size(); ++i) diff |= (*h)[i] ^ want[i];  // constant time
  if (!same || diff != 0) {
    return Unauthenticated("repository load and unload need 'Authorization: Bearer <token>'");
  }
  return Status::Ok();
}

void InferenceService::PostRepositoryAction(RepositoryAction action, std::string model,
                                            std::function<void(Status)> done,
                                            std::string config_json) {
  admin_->Post([this, action, model = std::move(model), done = std::move(done),
                config_json = std::move(config_json)] {
    const bool load = action == RepositoryAction::kLoad;
    Status s = load ? LoadFromRepository(model, config_json) : Unload(model);
    spdlog::info("repository {} '{}': {}", load ? "load" : "unload", model, s.ToString());
    done(std::move(s));
  });
}

std::optional<std::string> InferenceService::FailedLoad(const std::string& model) const {
  std::lock_guard<std::mutex> l(failed_mu_);
  auto it = failed_.find(model);
  if (it == failed_.end()) return std::nullopt;
  return it->second;
}

Status InferenceService::Unload(const std::string& model) {
  bool forgotten = false;
  {
    std::lock_guard<std::mutex> l(failed_mu_);
    forgotten = failed_.erase(model) > 0;
  }
  Status s = scheduler_.UnloadModel(model);
  return forgotten && s.code() == StatusCode::kNotFound ? Status::Ok() : s;
}

Status InferenceService::LoadFromRepository(const std::string& model,
                                            const std::string& config_json) {
  Status s = LoadFolder(model, config_json);
  const bool serving = scheduler_.IsLoaded(model);
  const bool known = serving || InRepository(model);  // a name not in it is a typo, not a failure
  std::lock_guard<std::mutex> l(failed_mu_);
  if (s.ok() || serving) {
    failed_.erase(model);
  } else if (known) {
    failed_[model] = ClientMessage(s.message());
  }
  return s;
}

Status InferenceService::LoadFolder(const std::string& model, const std::string& config_json) {
  const std::string folder = (std::filesystem::path(options_.model_repository) / model).string();
  const bool reload = scheduler_.IsLoaded(model);
  auto config =
      config_json.empty() ? LoadModelConfig(folder) : LoadModelConfigFromJson(folder, config_json);
  Status s;
  if (!config.ok()) {
    s = config.status().code() == StatusCode::kNotFound
            ? NotFound("model '" + model + "' is not in the repository")
            : config.status();
  } else {
    LoadOptions options;
    options.replace = true;  // a reload: the loaded one serves until the new one is ready
    options.overcommit = options_.overcommit;
    s = scheduler_.LoadModel(*config, options);
  }
  if (!reload) return s;
  return s.WithContext("reload of '" + model + "' failed, the loaded one keeps serving");
}

}  // namespace batchwise
