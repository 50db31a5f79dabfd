#include "app/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "backend/engine_util.h"
#include "backend/pinned_worker.h"
#include "device/discovery.h"
#include "device/monitor.h"
#include "profile/reference.h"
#include "repository/model_config.h"

namespace batchwise {
namespace {

namespace fs = std::filesystem;

// S1 before anything is placed: each processor's table of the reference model, stored or
// measured now (profile/reference.h), and one line per processor saying which P it uses and where
// it came from.
std::map<std::string, PerfTable> ReferenceTables(const ServerOptions& o,
                                                 const std::vector<Processor>& processors,
                                                 Clock& clock) {
  std::map<std::string, PerfTable> out;
  if (o.profiles_dir.empty() && !o.measure_profiles) return out;  // P from simulated tables only
  auto ref = LoadModelConfig((fs::path(o.model_repository) / o.reference_model).string());
  if (!ref.ok()) {
    spdlog::warn("no reference model '{}' in the repository ({}): processors have no measured P "
                 "and placement's performance term is off",
                 o.reference_model, ref.status().ToString());
    return out;
  }
  ReferenceProfileOptions ro;
  ro.store_dir = o.profiles_dir;
  ro.measure = o.measure_profiles;
  for (auto& r : ReferenceProfiles(processors, *ref, ro, clock)) {
    const PerfTable* t = &r.table;
    if (!r.has_table) {
      for (const auto& p : processors) {
        if (p.id == r.processor_id) t = p.table.get();  // a simulated processor's declared one
      }
    }
    if (t != nullptr && !t->cells.empty()) {
      spdlog::info("{}: P = {:.1f} samples/s of {} ({}), {}", r.processor_id,
                   t->ProcessingPerformance(), ref->name, t->engine, r.origin);
    } else {
      spdlog::info("{}: no P: {}", r.processor_id, r.origin);
    }
    if (r.has_table) out[r.processor_id] = std::move(r.table);
  }
  return out;
}

// "N" or "N-M", comma-separated.
Result<std::vector<int>> ParseCoreList(const std::string& spec) {
  const Status bad = InvalidArgument("--frontend-cores: '" + spec + "' is not a core list");
  std::vector<int> cores;
  if (spec.empty() || spec.back() == ',') return bad;
  std::stringstream in(spec);
  for (std::string item; std::getline(in, item, ',');) {
    std::istringstream one(item);
    int lo = 0;
    if (!(one >> lo)) return bad;
    int hi = lo;
    char dash = 0;
    if (one >> dash && (dash != '-' || !(one >> hi))) return bad;
    if (lo < 0 || hi < lo || hi >= CPU_SETSIZE || !one.eof()) return bad;
    for (int c = lo; c <= hi; ++c) cores.push_back(c);
  }
  return cores;
}

// The frontend's cores (ServerOptions::frontend_cores); empty: no pinning.
Result<std::vector<int>> FrontendCores(const std::string& spec,
                                       const std::vector<Processor>& processors) {
  if (spec == "all") return std::vector<int>{};
  std::vector<int> allowed = AllowedCpus();
  if (spec != "auto") {
    BW_ASSIGN_OR_RETURN(std::vector<int> cores, ParseCoreList(spec));
    for (int c : cores) {
      if (!std::binary_search(allowed.begin(), allowed.end(), c)) {
        return InvalidArgument("--frontend-cores: core " + std::to_string(c) +
                               " is not available to this process (allowed: " +
                               CoresToString(allowed) + ")");
      }
    }
    return cores;
  }
  std::set<int> held;
  for (const auto& p : processors) held.insert(p.cores.begin(), p.cores.end());
  std::vector<int> free;
  for (int c : allowed) {
    if (!held.contains(c)) free.push_back(c);
  }
  return free.size() == allowed.size() ? std::vector<int>{} : free;
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(const ServerOptions& options, Clock& clock,
                                               EngineFactory factory,
                                               std::vector<Processor> processors) {
  std::unique_ptr<Server> server(new Server());
  BW_RETURN_IF_ERROR(server->Start(options, clock, std::move(factory), std::move(processors)));
  return server;
}

Status Server::Start(const ServerOptions& o, Clock& clock, EngineFactory factory,
                     std::vector<Processor> processors) {
  // A repository that is not there is a mistake to stop on, not a server that serves nothing.
  BW_ASSIGN_OR_RETURN(std::vector<std::string> folders, ListModelFolders(o.model_repository));
  for (const auto& m : o.models) {
    const bool there = std::any_of(folders.begin(), folders.end(), [&](const std::string& f) {
      return fs::path(f).filename() == m;
    });
    if (!there) {
      return NotFound("--models: '" + m + "' is not a model of the repository " +
                      o.model_repository);
    }
  }
  SchedulerHardware hw;
  std::shared_ptr<const NvmlLibrary> nvml;
  if (processors.empty()) {
    DiscoveryOptions d;
    d.cpu_spec = o.processors;
    d.simulated_path = o.simulated;
    BW_ASSIGN_OR_RETURN(DiscoveredProcessors found, DiscoverProcessors(d));
    if (!found.gpu_note.empty()) spdlog::info("gpu: {}", found.gpu_note);
    processors = std::move(found.processors);
    nvml = found.nvml;
  }
  BW_ASSIGN_OR_RETURN(hw.monitor, CreateMonitorFor({}, clock, processors, {}, nvml));
  hw.profiles = ReferenceTables(o, processors, clock);
  BW_ASSIGN_OR_RETURN(std::vector<int> frontend, FrontendCores(o.frontend_cores, processors));
  hw.processors = std::move(processors);
  if (!factory) factory = DefaultEngineFactory(o.table_dir);
  BW_ASSIGN_OR_RETURN(scheduler_, Scheduler::Create(o.scheduler, clock, std::move(hw), factory));
  scheduler_->Start();
  // The listeners' threads, created from here on, inherit the pinning; models load after it ends.
  BW_ASSIGN_OR_RETURN(auto pinned, ScopedThreadAffinity::Pin(frontend));
  if (!frontend.empty()) {
    spdlog::info("frontend threads on cores {} ({})", CoresToString(frontend),
                 o.frontend_cores == "auto" ? "no cpu processor holds them" : "--frontend-cores");
  }
  BW_ASSIGN_OR_RETURN(metrics_, ServerMetrics::Create(o.metrics));
  metrics_->Attach(scheduler_.get());
  InferenceService::Options so = o.service;
  so.model_repository = o.model_repository;
  so.overcommit = o.overcommit;
  service_ = std::make_unique<InferenceService>(so, *scheduler_, metrics_.get(), clock);
  kserve_http_ = std::make_unique<KServeHttp>(*service_);
  KServeHttp* routes = kserve_http_.get();
  HttpServer::Options http = o.http;
  http.clock = &clock;
  BW_ASSIGN_OR_RETURN(
      http_, HttpServer::Create(
                 http,
                 [routes](HttpRequest r, Responder done) {
                   routes->Handle(std::move(r), std::move(done));
                 },
                 [routes](const HttpRequest& head) { return routes->BeforeBody(head); }));
  http_->Start();
  spdlog::info("KServe v2 HTTP on {}:{}; metrics on port {}", o.http.host, http_->port(),
               metrics_->port());
  if (o.grpc.port >= 0) {
    GrpcServer::Options go = o.grpc;
    if (go.host.empty()) go.host = o.http.host;
    BW_ASSIGN_OR_RETURN(grpc_, GrpcServer::Create(go, *service_));
    spdlog::info("KServe v2 gRPC on {}:{}", go.host, grpc_->port());
  }
  pinned.reset();
  LoadRepository(o, folders);
  service_->SetReady(true);
  return Status::Ok();
}

// Every model named by --models, else every model folder of the repository, through the same
// routine as the repository extension's load (InferenceService::LoadFromRepository).
void Server::LoadRepository(const ServerOptions& o, const std::vector<std::string>& folders) {
  std::vector<std::string> names = o.models;
  if (names.empty()) {
    for (const auto& f : folders) names.push_back(fs::path(f).filename().string());
  }
  for (const auto& name : names) {
    Status s = service_->LoadFromRepository(name);
    if (s.ok()) {
      const auto on = scheduler_->Instances(name);
      const auto decisions = scheduler_->Decisions(name);
      spdlog::info("loaded {} on {}: {}", name, on.empty() ? "?" : on[0].processor,
                   decisions.empty() ? "placed" : decisions.back().reason);
    } else {
      load_failures_.push_back(name + ": " + s.ToString());
      spdlog::error("not loaded: {}: {} (the server stays unready)", name, s.ToString());
    }
  }
}

void Server::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    if (service_) service_->SetReady(false);
    if (http_) http_->Shutdown();
    if (grpc_) grpc_->Shutdown();  // every call answered while the scheduler still runs
    if (scheduler_) scheduler_->Stop();
  });
}

Server::~Server() {
  Shutdown();
  grpc_.reset();
  kserve_http_.reset();
  service_.reset();
  if (metrics_) metrics_->Attach(nullptr);
  scheduler_.reset();
  http_.reset();
  metrics_.reset();
}

}  // namespace batchwise
