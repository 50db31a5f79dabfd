// InferenceService: the protocol-neutral inference service under the KServe v2 adapters (HTTP in
// frontend/kserve_http, gRPC in frontend/grpc_server). It holds everything both protocols answer
// the same way, once: readiness (the server's, with why it is not ready, and each model's),
// server and model metadata, Triton's model configuration (as data: each adapter encodes it),
// statistics, inference submission, the per-model outcome metrics, the model repository's index,
// load and unload, and the admin authorization those need. The adapters only translate between
// their protocol and these calls (docs/design.md, "Parts").
//
// Thread-safe: every call from any thread. Repository load/unload, which block for seconds, run
// on one admin thread the service owns (std::jthread, joined in the destructor after its queue is
// done), for HTTP and gRPC alike (PostRepositoryAction). The scheduler and metrics must outlive
// the service.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/tensor.h"
#include "common/thread_annotations.h"
#include "common/version.h"
#include "metrics/metrics.h"
#include "repository/model_config.h"
#include "service/shared_memory.h"
#include "serving/scheduler.h"

namespace batchwise {

// A model's metadata (KServe v2 model metadata): its tensors with the batch dimension as -1, or
// their full shapes for a model without one (Triton's max_batch_size 0).
struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
};

// One input or output of Triton's model configuration.
struct TritonTensorConfig {
  std::string name;
  DataType dtype = DataType::kFp32;
  Shape dims;  // without the batch dimension; the full shape when max_batch_size is 0
};

// One instance group of Triton's model configuration: Batchwise reports one per instance.
struct TritonInstanceGroup {
  std::string name;  // the processor the instance runs on
  std::string kind;  // Triton's kind name: "KIND_CPU", or "KIND_MODEL" (a simulated processor)
  int count = 1;
};

// Triton's model configuration (its ModelConfig message) of a loaded model, as data: HTTP writes
// Triton's JSON mapping of it, gRPC the message. The policy is always the latest version (one),
// the scheduling always dynamic batching (its settings are Batchwise's own, under
// /v2/batchwise/models), every input's format FORMAT_NONE.
struct TritonModelConfig {
  std::string name;
  std::string platform;  // "pytorch_libtorch", "opencv_dnn" (the ONNX engine) or "batchwise"
  std::string backend;   // "pytorch", "opencv" or "batchwise"
  uint32_t latest_versions = 1;
  int max_batch_size = 0;  // 0: the model has no batch dimension
  std::vector<TritonTensorConfig> inputs;
  std::vector<TritonTensorConfig> outputs;
  std::vector<TritonInstanceGroup> instance_groups;
  // Triton's string parameters: "batchwise_kind", "batchwise_latency_target_ms".
  std::map<std::string, std::string> parameters;
  // Batchwise's own section (HTTP only: the message has no field for it).
  std::vector<std::string> engines;  // engine kind names, in order of preference
  std::vector<std::string> processor_kinds;
};

// Triton's name of a data type in a model configuration: "TYPE_FP32", ..., "TYPE_STRING" for
// BYTES.
std::string TritonTypeName(DataType dtype);

class InferenceService {
 public:
  struct Options {
    // Model repository root: index, load and unload read its folders.
    std::string model_repository = "models";
    // Non-empty: repository load and unload need "Authorization: Bearer <admin_token>".
    std::string admin_token;
    // Loads overcommit the least-workload processor when every one that can run the model is at
    // its instance limit (LoadOptions::overcommit; ServerOptions::overcommit).
    bool overcommit = true;
    std::string server_version = ServerVersion();
  };

  // `metrics` may be null.
  InferenceService(Options options, Scheduler& scheduler, ServerMetrics* metrics, Clock& clock);
  ~InferenceService();
  InferenceService(const InferenceService&) = delete;
  InferenceService& operator=(const InferenceService&) = delete;

  // --- Readiness ---

  // The server is ready (HTTP /v2/health/ready, gRPC ServerReady) only while it is up (set once
  // startup loading is done, cleared when shutdown starts) and no model has failed to load (as
  // Triton's strict readiness): a model whose load failed, at startup or through the repository,
  // keeps the server unready until it loads or is unloaded. A failed reload does not count (the
  // loaded one keeps serving).
  void SetReady(bool ready) { ready_.store(ready, std::memory_order_release); }
  bool ready() const { return NotReadyReason().empty(); }
  // Why the server is not ready; empty when it is.
  std::string NotReadyReason() const;
  // OK when loaded; FAILED_PRECONDITION when in the repository but not loaded; else NOT_FOUND.
  Status ModelReadiness(const std::string& model) const;
  // OK when `model` is loaded, else NOT_FOUND saying whether it is in the repository (what an
  // inference request for it answers).
  Status CheckLoaded(const std::string& model) const;

  // --- Names and versions (as both protocols accept them) ---

  // INVALID_ARGUMENT unless `model` is usable as a repository folder name (no separators, no "."
  // or "..", no control bytes).
  static Status CheckModelName(const std::string& model);
  // `version` empty or the version the loaded `model` serves (ModelConfig::version: the highest
  // its version_policy selects among its version folders; 1 for config.json). Non-numeric
  // INVALID_ARGUMENT; another number NOT_FOUND naming it (Batchwise serves one version per
  // model). When `model` is not loaded any number passes: the call then answers that.
  Status CheckModelVersion(const std::string& model, const std::string& version) const;
  // The system shared-memory regions clients registered (both protocols share them).
  SharedMemoryRegistry& shared_memory() { return shared_memory_; }

  // --- Metadata, configuration, statistics ---

  static constexpr const char* kServerName = "batchwise";
  const std::string& server_version() const { return options_.server_version; }
  // The protocol extensions server metadata lists.
  static const std::vector<std::string>& Extensions();
  // The loaded model's metadata (NOT_FOUND when not loaded).
  Result<ModelMetadata> Metadata(const std::string& model) const;
  // The loaded model's configuration (NOT_FOUND when not loaded).
  Result<ModelConfig> LoadedModel(const std::string& model) const;
  // The platform name a configuration is reported with (metadata and Triton's configuration).
  static std::string PlatformName(const ModelConfig& config);
  // Triton's configuration of a loaded model (NOT_FOUND when not loaded).
  Result<TritonModelConfig> TritonConfig(const std::string& model) const;
  // Triton's statistics of one model, or of every model when `model` is empty, in Triton's JSON
  // mapping of its ModelStatisticsResponse (what the scheduler keeps).
  Result<nlohmann::json> StatsJson(const std::string& model) const;
  // Batchwise's own views (/v2/batchwise/...): the placement decisions (of `model`, or of every
  // model when empty), the processors with their state, the loaded models with their batching.
  nlohmann::json PlacementsJson(const std::string& model) const;
  nlohmann::json ProcessorsJson() const;
  nlohmann::json ModelsJson() const;

  // --- Inference ---

  // Hands a decoded request to the scheduler: NOT_FOUND when its model is not loaded, else
  // Scheduler::Infer's answer; `done` is called once iff this returns OK.
  Status SubmitInfer(InferRequest request, InferCallback done);
  // Before a request's tensors are here (its header was read at `received`): UNAVAILABLE, counted
  // as a refusal of the model, when Scheduler::CheckAdmission would refuse even one sample; OK
  // otherwise (unknown or unready models are answered on the usual path, with the request).
  Status AdmitBeforeBody(const std::string& model, TimePoint received) const;
  // Counts one inference request's outcome in the per-model metrics, once per request whichever
  // protocol it came by, `start` being when it arrived (a request for a model that is not loaded
  // is not counted: it has no series). The adapters call it for every request they answer,
  // refused or served.
  void RecordInferOutcome(const std::string& model, const Status& outcome, TimePoint start) const;
  // Null when the server keeps no metrics; the adapters count their protocol's answers there.
  ServerMetrics* metrics() const { return metrics_; }
  Clock& clock() const { return clock_; }

  // --- Repository extension ---

  // One model of the repository index.
  struct RepositoryEntry {
    std::string name;
    std::string version = "1";  // the one it serves when loaded
    std::string state;   // "READY" (loaded) or "UNAVAILABLE"
    std::string reason;  // empty when READY; "unloaded", or why its last load failed
  };
  // The repository's models in folder order; `ready_only`: only the loaded ones.
  Result<std::vector<RepositoryEntry>> RepositoryIndex(bool ready_only) const;
  // OK when no admin token is set or `authorization` (the request's Authorization header or
  // gRPC "authorization" metadata; null when absent) is "Bearer <admin_token>" (compared in
  // constant time); else UNAUTHENTICATED. Load and unload need it, the index does not.
  Status AuthorizeAdmin(const std::string* authorization) const;
  // Loads `model` from the repository folder of that name, or reloads it atomically when it is
  // loaded (the answer of a failed reload says so: the loaded one keeps serving), with
  // Options::overcommit. Startup and the repository extension both load through it; a failure
  // that leaves the model unloaded is kept (readiness, the repository index) until the model
  // loads or is unloaded. Blocks for the load. `config_json`: Triton's load parameter "config"
  // (a model config in Triton's JSON form), which replaces the folder's config file for this
  // load; empty: the folder's.
  Status LoadFromRepository(const std::string& model, const std::string& config_json = "");
  // Unloads `model` (draining it) and forgets a failed load of it.
  Status Unload(const std::string& model);
  enum class RepositoryAction { kLoad, kUnload };
  // Runs LoadFromRepository or Unload of `model` on the admin thread (one action at a time, off
  // the protocols' threads, which it never blocks) and calls `done` there with its answer.
  // The caller has authorized the request and checked the model name; `config_json` as in
  // LoadFromRepository (a load's only).
  void PostRepositoryAction(RepositoryAction action, std::string model,
                            std::function<void(Status)> done, std::string config_json = "");

  class AdminQueue;

 private:
  bool InRepository(const std::string& model) const;
  // LoadFromRepository without the bookkeeping of failures.
  Status LoadFolder(const std::string& model, const std::string& config_json);
  // Why `model`'s last load failed, if it did and it is still not loaded.
  std::optional<std::string> FailedLoad(const std::string& model) const;

  const Options options_;
  Scheduler& scheduler_;
  ServerMetrics* const metrics_;
  Clock& clock_;
  std::atomic<bool> ready_{false};
  mutable std::mutex failed_mu_;
  std::map<std::string, std::string> failed_ GUARDED_BY(failed_mu_);  // model -> why not loaded
  SharedMemoryRegistry shared_memory_;
  std::unique_ptr<AdminQueue> admin_;  // last: joined first
};

}  // namespace batchwise
