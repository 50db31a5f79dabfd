// KServeService: the KServe v2 REST protocol over a Scheduler — health, server and model
// metadata, inference (JSON and binary tensors), and the Triton extensions existing clients rely
// on (model configuration, statistics, model repository), plus Batchwise's own views under
// /v2/batchwise/. Routes requests from HttpServer; docs/http-api.md lists every endpoint.
//
// Thread-safe: Handle() from any Asio thread. Inference is asynchronous (no thread waits for a
// request in flight: the scheduler's callback answers through the Responder, whose encoding runs
// on the connection's strand). Repository load/unload, which block for seconds, run on one admin
// thread the service owns (std::jthread, joined in the destructor after its queue is done), for
// HTTP and gRPC alike (PostRepositoryAction).
// The scheduler and metrics must outlive the service.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/thread_annotations.h"
#include "frontend/http_server.h"
#include "frontend/metrics.h"
#include "repository/model_config.h"
#include "service/shared_memory.h"
#include "serving/scheduler.h"

namespace batchwise {

class KServeService {
 public:
  struct Options {
    // Model repository root: index, load and unload read its folders.
    std::string model_repository = "models";
    // Non-empty: repository load and unload need "Authorization: Bearer <admin_token>".
    std::string admin_token;
    // Loads overcommit the least-workload processor when every one that can run the model is at
    // its instance limit (LoadOptions::overcommit; ServerOptions::overcommit).
    bool overcommit = true;
    std::string server_version = "0.1.0";
  };

  // `metrics` may be null.
  KServeService(Options options, Scheduler& scheduler, ServerMetrics* metrics, Clock& clock);
  ~KServeService();
  KServeService(const KServeService&) = delete;
  KServeService& operator=(const KServeService&) = delete;

  void Handle(HttpRequest request, Responder respond);

  // /v2/health/ready and gRPC ServerReady answer ready only while the server is up (set once
  // startup loading is done, cleared when shutdown starts) and no model has failed to load (as
  // Triton's strict readiness): a model whose load failed, at startup or through the repository,
  // keeps the server unready until it loads or is unloaded. A failed reload does not count (the
  // loaded one keeps serving).
  void SetReady(bool ready) { ready_.store(ready, std::memory_order_release); }
  bool ready() const { return NotReadyReason().empty(); }
  // Why the server is not ready; empty when it is.
  std::string NotReadyReason() const;

  // Loads `model` from the repository folder of that name, or reloads it atomically when it is
  // loaded (the answer of a failed reload says so: the loaded one keeps serving), with
  // Options::overcommit. Startup and the repository extension both load through it; a failure
  // that leaves the model unloaded is kept (readiness, the repository index) until the model
  // loads or is unloaded. Blocks for the load.
  Status LoadFromRepository(const std::string& model);
  // Unloads `model` (draining it) and forgets a failed load of it.
  Status Unload(const std::string& model);

  // --- Protocol-neutral operations (HTTP routes and GrpcServer) ---

  const std::string& server_version() const { return options_.server_version; }
  // The protocol extensions ServerMetadata lists.
  static const std::vector<std::string>& Extensions();
  // INVALID_ARGUMENT unless `model` is usable as a repository folder name (what the HTTP path's
  // segment must be once percent-decoded).
  static Status CheckModelName(const std::string& model);
  // `version` empty or "1" (Batchwise serves one version); non-numeric INVALID_ARGUMENT, another
  // number NOT_FOUND.
  static Status CheckModelVersion(const std::string& model, const std::string& version);
  // OK when loaded; FAILED_PRECONDITION when in the repository but not loaded; else NOT_FOUND.
  Status ModelReadiness(const std::string& model) const;
  // The loaded model's configuration (NOT_FOUND when not loaded) and its platform name.
  Result<ModelConfig> LoadedModel(const std::string& model) const;
  static std::string PlatformName(const ModelConfig& config);
  // Triton's statistics of one model, or of every model when `model` is empty.
  Result<nlohmann::json> StatsJson(const std::string& model) const;
  // OK when `model` is loaded, else NOT_FOUND saying whether it is in the repository (what an
  // inference request for it answers).
  Status CheckLoaded(const std::string& model) const;
  // Triton's configuration of a loaded model (NOT_FOUND when not loaded): the JSON mapping of
  // Triton's ModelConfig message (name, platform, backend, version_policy, max_batch_size, input
  // and output with Triton data types and dims without the batch dimension, instance_group,
  // dynamic_batching, parameters) plus Batchwise's own "batchwise" section. HTTP answers it as
  // is; gRPC parses it into the message (dropping "batchwise", which the message lacks).
  Result<nlohmann::json> TritonModelConfig(const std::string& model) const;
  // Hands a decoded request to the scheduler: NOT_FOUND (the HTTP path's wording) when its model
  // is not loaded, else Scheduler::Infer's answer; `done` is called once iff this returns OK.
  Status SubmitInfer(InferRequest request, InferCallback done);
  // Counts one inference outcome in the per-model metrics, as the HTTP path does (a request for
  // a model that is not loaded is not counted: it has no series).
  void RecordInferOutcome(const std::string& model, const Status& outcome, TimePoint start) const;
  ServerMetrics* metrics() const { return metrics_; }
  // The system shared-memory regions clients registered (both protocols share them).
  SharedMemoryRegistry& shared_memory() { return shared_memory_; }

  // --- Repository extension (HTTP /v2/repository/..., gRPC Repository*) ---

  // One model of the repository index.
  struct RepositoryEntry {
    std::string name;
    std::string version = "1";
    std::string state;   // "READY" (loaded) or "UNAVAILABLE"
    std::string reason;  // empty when READY; "unloaded", or why its last load failed
  };
  // The repository's models in folder order; `ready_only`: only the loaded ones.
  Result<std::vector<RepositoryEntry>> RepositoryIndex(bool ready_only) const;
  // OK when no admin token is set or `authorization` (the request's Authorization header or
  // gRPC "authorization" metadata; null when absent) is "Bearer <admin_token>" (compared in
  // constant time); else UNAUTHENTICATED. Load and unload need it, the index does not.
  Status AuthorizeAdmin(const std::string* authorization) const;
  enum class RepositoryAction { kLoad, kUnload };
  // Runs LoadFromRepository or Unload of `model` on the admin thread (one action at a time, off
  // the protocols' threads, which it never blocks) and calls `done` there with its answer.
  // The caller has authorized the request and checked the model name.
  void PostRepositoryAction(RepositoryAction action, std::string model,
                            std::function<void(Status)> done);
  Clock& clock() const { return clock_; }

  class AdminQueue;
  struct Route;

 private:
  HttpResponse Dispatch(const Route& route, const HttpRequest& request, const Responder& respond,
                        bool& answered);
  void Infer(const std::string& model, const HttpRequest& request, const Responder& respond);
  void Repository(const Route& route, const HttpRequest& request, const Responder& respond);
  HttpResponse ServerMetadata() const;
  HttpResponse ModelMetadata(const std::string& model) const;
  HttpResponse ModelReady(const std::string& model) const;
  HttpResponse ModelConfigJson(const std::string& model) const;
  HttpResponse Stats(const std::string& model) const;
  HttpResponse RepositoryIndexRoute(const HttpRequest& request) const;
  HttpResponse BatchwiseView(const std::string& view, const HttpRequest& request) const;
  bool InRepository(const std::string& model) const;
  // LoadFromRepository without the bookkeeping of failures.
  Status LoadFolder(const std::string& model);
  // Why `model`'s last load failed, if it did and it is still not loaded.
  std::optional<std::string> FailedLoad(const std::string& model) const;
  void Answer(const Responder& respond, const std::string& endpoint, HttpResponse response) const;

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
