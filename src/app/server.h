// Server: the whole `batchwise serve` — processors discovered, the scheduler with its monitor,
// every model of the repository loaded, the KServe v2 HTTP and gRPC endpoints and the Prometheus
// endpoint. The application's wiring (src/app/): the only part that knows every other part, so
// the frontend adapters, the service and the serving layers below them depend only downwards
// (docs/design.md, "Parts"). The CLI and the integration tests start it the same way.
//
// Thread-safety: Create(), Shutdown() and the destructor belong to the owner's thread; the
// accessors may be used from any thread while it runs. Owns everything it starts; Shutdown() stops
// accepting, answers every request already accepted, then unloads the models (draining them).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "frontend/grpc_server.h"
#include "frontend/http_server.h"
#include "frontend/kserve_http.h"
#include "metrics/metrics.h"
#include "service/inference_service.h"
#include "serving/engine_factory.h"
#include "serving/scheduler.h"

namespace batchwise {

struct ServerOptions {
  // The model repository (docs/model-repository.md).
  std::string model_repository = "models";
  // Models to load at start; empty: every model folder in the repository.
  std::vector<std::string> models;
  // CPU processors (docs/processors.md grammar): default one processor per core.
  std::string processors = "cpu:*";
  // Simulated processor declarations (JSON); empty: none.
  std::string simulated;
  // Stored load-performance tables of the reference model (`batchwise profile --out`), used as
  // each processor's P when one matches; empty or missing folder: none (`serve` defaults to
  // DefaultProfileDir(), profile/reference.h).
  std::string profiles_dir;
  std::string reference_model = "resnet50";
  // A processor with no stored table gets one measured before anything is placed (a short sweep
  // of the reference model, profile/reference.h), saved in profiles_dir. Off (the library's
  // default, for tests; `serve --no-profile`): such a processor's P is 0.
  bool measure_profiles = false;
  // Where the default engine factory writes simulated processors' tables.
  std::string table_dir = "/tmp/batchwise-tables";
  // When placement finds every processor that can run a model at its instance limit, the
  // least-workload one takes it anyway (LoadOptions::overcommit). Off: the load fails (429).
  bool overcommit = true;
  // Cores the frontend's threads (HTTP, gRPC, metrics) run on. "auto": the allowed cores that no
  // CPU processor holds, when there are some (else every allowed core), so that reading and
  // refusing requests does not take time from the inference they wait for; "all": every allowed
  // core; or a list ("1", "2-3,6"). Engines stay pinned to their processors' cores either way.
  std::string frontend_cores = "auto";

  HttpServer::Options http;
  // The gRPC endpoint; its port -1: none. Its empty host: http.host.
  GrpcServer::Options grpc;
  ServerMetrics::Options metrics;
  InferenceService::Options service;  // its model_repository is set from the field above
  Scheduler::Options scheduler;
};

class Server {
 public:
  // Starts everything and loads the models. A repository that is not a folder, or a model of
  // `options.models` it does not hold, is an error; a model that fails to load is logged and
  // skipped, and the server starts unready (InferenceService::ready). `factory` null:
  // DefaultEngineFactory. `processors` non-empty: used instead of discovery (tests).
  static Result<std::unique_ptr<Server>> Create(const ServerOptions& options, Clock& clock,
                                                EngineFactory factory = nullptr,
                                                std::vector<Processor> processors = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Graceful stop; idempotent.
  void Shutdown();

  int http_port() const { return http_->port(); }
  // -1 when the server has no gRPC endpoint.
  int grpc_port() const { return grpc_ ? grpc_->port() : -1; }
  int metrics_port() const { return metrics_->port(); }
  Scheduler& scheduler() { return *scheduler_; }
  ServerMetrics& metrics() { return *metrics_; }
  const InferenceService& service() const { return *service_; }
  // Models that failed to load at start, with why.
  const std::vector<std::string>& load_failures() const { return load_failures_; }

 private:
  Server() = default;
  Status Start(const ServerOptions& options, Clock& clock, EngineFactory factory,
               std::vector<Processor> processors);
  void LoadRepository(const ServerOptions& options, const std::vector<std::string>& folders);

  // Destroyed bottom-up: the stopped gRPC server, the HTTP adapter, the service (its admin
  // thread), then the scheduler (drains), then the stopped HTTP server, then metrics.
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<InferenceService> service_;
  std::unique_ptr<KServeHttp> kserve_http_;
  std::unique_ptr<GrpcServer> grpc_;
  std::vector<std::string> load_failures_;
  std::once_flag shutdown_once_;
};

}  // namespace batchwise
