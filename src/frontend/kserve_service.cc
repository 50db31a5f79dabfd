#include "frontend/kserve_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/thread_annotations.h"
#include "frontend/http_status.h"
#include "frontend/kserve_codec.h"
#include "frontend/shared_memory_http.h"
#include "repository/model_config.h"

namespace batchwise {

using nlohmann::json;

struct KServeService::Route {
  enum class Kind {
    kServerMetadata,
    kLive,
    kReady,
    kModelMetadata,
    kModelReady,
    kInfer,
    kConfig,
    kStats,
    kRepositoryIndex,
    kLoad,
    kUnload,
    kBatchwise,
  };
  Kind kind = Kind::kServerMetadata;
  std::string model;  // percent-decoded; empty for server-wide routes
  std::string view;   // kBatchwise: "placements", "processors", "models"
  std::string method = "GET";
  std::string endpoint;  // metrics label
};

// Runs repository loads and unloads, one at a time, off the Asio threads.
class KServeService::AdminQueue {
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

using Route = KServeService::Route;
using Kind = KServeService::Route::Kind;

HttpResponse Json(const json& j, int status = 200) {
  return {status, "application/json", {}, j.dump(-1, ' ', false, json::error_handler_t::replace)};
}

HttpResponse Error(const Status& s) {
  return {HttpStatusFor(s.code()), "application/json", {}, ErrorBody(s.message())};
}

HttpResponse Error(TransportError e, const std::string& message) {
  return {HttpStatusFor(e), "application/json", {}, ErrorBody(message)};
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 2 < s.size() ? Hex(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? Hex(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) return InvalidArgument("bad %-escape in the path");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// A model name usable as a repository folder: no separators, no "." or "..", no control bytes.
Result<std::string> ModelName(std::string_view segment) {
  BW_ASSIGN_OR_RETURN(std::string name, PercentDecode(segment));
  BW_RETURN_IF_ERROR(KServeService::CheckModelName(name));
  return name;
}

// Versions: absent or "1" (Batchwise serves one version per model). Non-numeric: 400.
Status CheckVersion(const std::string& model, std::string_view v) {
  bool numeric = !v.empty() && v.size() <= 18;
  for (char c : v) numeric = numeric && c >= '0' && c <= '9';
  if (!numeric) return InvalidArgument("model version '" + std::string(v) + "' is not a number");
  if (std::stoll(std::string(v)) != 1) {
    return NotFound("model '" + model + "' has no version " + std::string(v) +
                    " (Batchwise serves version 1)");
  }
  return Status::Ok();
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const size_t j = std::min(path.find('/', i), path.size());
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

Result<Route> ModelRoute(const std::vector<std::string_view>& s) {
  Route r;
  BW_ASSIGN_OR_RETURN(r.model, ModelName(s[2]));
  size_t next = 3;
  if (s.size() > 3 && s[3] == "versions") {
    if (s.size() < 5) return NotFound("no route: a version is missing after /versions");
    BW_RETURN_IF_ERROR(CheckVersion(r.model, s[4]));
    next = 5;
  }
  if (s.size() > next + 1) return NotFound("no such route");
  const std::string_view leaf = s.size() == next ? "" : s[next];
  if (leaf.empty())
    r = {Kind::kModelMetadata, r.model, "", "GET", "model_metadata"};
  else if (leaf == "ready")
    r = {Kind::kModelReady, r.model, "", "GET", "model_ready"};
  else if (leaf == "infer")
    r = {Kind::kInfer, r.model, "", "POST", "infer"};
  else if (leaf == "config")
    r = {Kind::kConfig, r.model, "", "GET", "model_config"};
  else if (leaf == "stats")
    r = {Kind::kStats, r.model, "", "GET", "stats"};
  else
    return NotFound("no such route: /" + std::string(leaf));
  return r;
}

Result<Route> ParseRoute(std::string_view path) {
  const auto s = Split(path);
  if (s.empty() || s[0] != "v2") return NotFound("no such route (the KServe v2 API is under /v2)");
  if (s.size() == 1) return Route{Kind::kServerMetadata, "", "", "GET", "server_metadata"};
  if (s.size() == 3 && s[1] == "health" && s[2] == "live") {
    return Route{Kind::kLive, "", "", "GET", "health"};
  }
  if (s.size() == 3 && s[1] == "health" && s[2] == "ready") {
    return Route{Kind::kReady, "", "", "GET", "health"};
  }
  if (s.size() == 3 && s[1] == "models" && s[2] == "stats") {
    return Route{Kind::kStats, "", "", "GET", "stats"};
  }
  if (s.size() >= 3 && s[1] == "models") return ModelRoute(s);
  if (s.size() == 3 && s[1] == "repository" && s[2] == "index") {
    return Route{Kind::kRepositoryIndex, "", "", "POST", "repository"};
  }
  if (s.size() == 5 && s[1] == "repository" && s[2] == "models" &&
      (s[4] == "load" || s[4] == "unload")) {
    BW_ASSIGN_OR_RETURN(std::string model, ModelName(s[3]));
    return Route{s[4] == "load" ? Kind::kLoad : Kind::kUnload, model, "", "POST", "repository"};
  }
  if (s.size() == 3 && s[1] == "batchwise" &&
      (s[2] == "placements" || s[2] == "processors" || s[2] == "models")) {
    return Route{Kind::kBatchwise, "", std::string(s[2]), "GET", "batchwise"};
  }
  return NotFound("no such route: " + std::string(path));
}

// "model=<name>" from a query string, or empty.
std::string QueryModel(const std::string& query) {
  for (std::string_view rest = query; !rest.empty();) {
    const size_t amp = std::min(rest.find('&'), rest.size());
    std::string_view kv = rest.substr(0, amp);
    if (kv.starts_with("model=")) {
      auto v = PercentDecode(kv.substr(6));
      return v.ok() ? *v : "";
    }
    rest = amp < rest.size() ? rest.substr(amp + 1) : std::string_view{};
  }
  return "";
}

std::string TritonType(DataType t) {
  if (t == DataType::kBytes) return "TYPE_STRING";
  return "TYPE_" + std::string(DataTypeName(t));
}

std::string Platform(const ModelConfig& c) {
  if (c.engines.empty()) return "batchwise";
  return c.engines[0].engine == EngineKind::kTorchScript ? "pytorch_libtorch" : "onnxruntime_onnx";
}

json TensorsMetadata(const std::vector<TensorSpec>& specs) {
  json out = json::array();
  for (const auto& t : specs) {
    out.push_back({{"name", t.name}, {"datatype", DataTypeName(t.dtype)}, {"shape", t.shape}});
  }
  return out;
}

json TritonTensors(const std::vector<TensorSpec>& specs) {
  json out = json::array();
  for (const auto& t : specs) {
    Shape dims(t.shape.begin() + (t.shape.empty() ? 0 : 1), t.shape.end());  // without batch
    out.push_back({{"name", t.name},
                   {"data_type", TritonType(t.dtype)},
                   {"dims", dims},
                   {"format", "FORMAT_NONE"}});
  }
  return out;
}

}  // namespace

KServeService::KServeService(Options options, Scheduler& scheduler, ServerMetrics* metrics,
                             Clock& clock)
    : options_(std::move(options)),
      scheduler_(scheduler),
      metrics_(metrics),
      clock_(clock),
      admin_(std::make_unique<AdminQueue>()) {}

KServeService::~KServeService() = default;

void KServeService::Answer(const Responder& respond, const std::string& endpoint,
                           HttpResponse response) const {
  if (metrics_ != nullptr) metrics_->RecordHttp(endpoint, response.status);
  respond(std::move(response));
}

void KServeService::Handle(HttpRequest request, Responder respond) {
  if (auto shm = HandleSharedMemoryRoute(shared_memory_, request)) {
    return Answer(respond, "shared_memory", std::move(*shm));
  }
  Result<Route> route = ParseRoute(request.path);
  if (!route.ok()) return Answer(respond, "unknown", Error(route.status()));
  if (request.method != route->method) {
    return Answer(respond, route->endpoint,
                  Error(TransportError::kMethodNotAllowed, request.method + " is not allowed on " +
                                                               request.path + " (use " +
                                                               route->method + ")"));
  }
  bool answered = false;
  HttpResponse r = Dispatch(*route, request, respond, answered);
  if (!answered) Answer(respond, route->endpoint, std::move(r));
}

HttpResponse KServeService::Dispatch(const Route& route, const HttpRequest& request,
                                     const Responder& respond, bool& answered) {
  switch (route.kind) {
    case Kind::kServerMetadata:
      return ServerMetadata();
    case Kind::kLive:
      return {200, "application/json", {}, ""};
    case Kind::kReady:
      if (std::string why = NotReadyReason(); !why.empty()) return Error(Unavailable(why));
      return {200, "application/json", {}, ""};
    case Kind::kModelMetadata:
      return ModelMetadata(route.model);
    case Kind::kModelReady:
      return ModelReady(route.model);
    case Kind::kConfig:
      return ModelConfigJson(route.model);
    case Kind::kStats:
      return Stats(route.model);
    case Kind::kRepositoryIndex:
      return RepositoryIndexRoute(request);
    case Kind::kBatchwise:
      return BatchwiseView(route.view, request);
    case Kind::kInfer:
      answered = true;
      Infer(route.model, request, respond);
      return {};
    case Kind::kLoad:
    case Kind::kUnload:
      answered = true;
      Repository(route, request, respond);
      return {};
  }
  return Error(Internal("unhandled route"));
}

// --- Inference ---

void KServeService::Infer(const std::string& model, const HttpRequest& request,
                          const Responder& respond) {
  const TimePoint start = clock_.Now();
  auto fail = [&](const Status& s) {
    if (metrics_ != nullptr && s.code() != StatusCode::kNotFound) {
      metrics_->RecordInfer(model, false, clock_.Now() - start);
    }
    Answer(respond, "infer", Error(s));
  };
  if (Status loaded = CheckLoaded(model); !loaded.ok()) return fail(loaded);
  std::optional<size_t> json_size;
  if (const std::string* h = request.Header("inference-header-content-length")) {
    auto n = kserve::ParseJsonHeaderLength(*h);
    if (!n.ok()) return fail(n.status());
    json_size = *n;
  }
  auto decoded = kserve::DecodeInferRequest(request.body, json_size, &shared_memory_);
  if (!decoded.ok()) return fail(decoded.status());
  decoded->request.model = model;
  decoded->request.received = request.received;
  kserve::OutputEncoding encoding = std::move(decoded->encoding);
  ServerMetrics* metrics = metrics_;
  Clock* clock = &clock_;
  Status s = scheduler_.Infer(
      std::move(decoded->request),
      [respond, encoding, metrics, clock, start, model](Status st, InferResponse r) {
        respond.Later([st, r = std::move(r), encoding, metrics, clock, start, model] {
          HttpResponse out;
          auto encoded = st.ok() ? kserve::EncodeInferResponse(r, encoding)
                                 : Result<kserve::EncodedResponse>(st);
          if (!encoded.ok()) {
            out = Error(encoded.status());
          } else {
            out.body = std::move(encoded->body);
            if (encoded->json_size) {
              out.content_type = "application/octet-stream";
              out.headers.emplace_back("Inference-Header-Content-Length",
                                       std::to_string(*encoded->json_size));
            }
          }
          if (metrics != nullptr) {
            metrics->RecordInfer(model, out.status == 200, clock->Now() - start);
            metrics->RecordHttp("infer", out.status);
          }
          return out;
        });
      });
  if (!s.ok()) fail(s);
}

// --- Metadata, configuration, statistics ---

HttpResponse KServeService::ServerMetadata() const {
  return Json(
      {{"name", "batchwise"}, {"version", options_.server_version}, {"extensions", Extensions()}});
}

const std::vector<std::string>& KServeService::Extensions() {
  static const std::vector<std::string> kExtensions = {
      "binary_tensor_data", "model_configuration", "statistics",          "model_repository",
      "parameters",         "batchwise",           "system_shared_memory"};
  return kExtensions;
}

Status KServeService::CheckModelName(const std::string& model) {
  bool ok = !model.empty() && model != "." && model != ".." && model.size() <= 256;
  for (unsigned char c : model) ok = ok && c >= 0x20 && c != '/' && c != '\\' && c != 0x7f;
  if (!ok) return InvalidArgument("'" + model + "' is not a valid model name");
  return Status::Ok();
}

Status KServeService::CheckModelVersion(const std::string& model, const std::string& version) {
  return version.empty() ? Status::Ok() : CheckVersion(model, version);
}

Status KServeService::CheckLoaded(const std::string& model) const {
  if (scheduler_.IsLoaded(model)) return Status::Ok();
  return NotFound(InRepository(model) ? "model '" + model + "' is not loaded"
                                      : "unknown model '" + model + "'");
}

Status KServeService::ModelReadiness(const std::string& model) const {
  if (scheduler_.IsLoaded(model)) return Status::Ok();
  if (InRepository(model)) return FailedPrecondition("model '" + model + "' is not ready");
  return NotFound("unknown model '" + model + "'");
}

Result<ModelConfig> KServeService::LoadedModel(const std::string& model) const {
  return scheduler_.LoadedConfig(model);
}

std::string KServeService::PlatformName(const ModelConfig& config) { return Platform(config); }

Result<json> KServeService::StatsJson(const std::string& model) const {
  return scheduler_.StatsJson(model);
}

Status KServeService::SubmitInfer(InferRequest request, InferCallback done) {
  BW_RETURN_IF_ERROR(CheckLoaded(request.model));
  return scheduler_.Infer(std::move(request), std::move(done));
}

void KServeService::RecordInferOutcome(const std::string& model, const Status& outcome,
                                       TimePoint start) const {
  if (metrics_ == nullptr || outcome.code() == StatusCode::kNotFound) return;
  metrics_->RecordInfer(model, outcome.ok(), clock_.Now() - start);
}

bool KServeService::InRepository(const std::string& model) const {
  std::error_code ec;
  return std::filesystem::exists(
      std::filesystem::path(options_.model_repository) / model / "config.json", ec);
}

HttpResponse KServeService::ModelMetadata(const std::string& model) const {
  auto c = scheduler_.LoadedConfig(model);
  if (!c.ok()) return Error(c.status());
  return Json({{"name", c->name},
               {"versions", {"1"}},
               {"platform", Platform(*c)},
               {"inputs", TensorsMetadata(c->inputs)},
               {"outputs", TensorsMetadata(c->outputs)}});
}

HttpResponse KServeService::ModelReady(const std::string& model) const {
  if (scheduler_.IsLoaded(model)) return {200, "application/json", {}, ""};
  if (InRepository(model)) return Error(FailedPrecondition("model '" + model + "' is not ready"));
  return Error(NotFound("unknown model '" + model + "'"));
}

HttpResponse KServeService::ModelConfigJson(const std::string& model) const {
  auto config = TritonModelConfig(model);
  if (!config.ok()) return Error(config.status());
  return Json(*config);
}

Result<json> KServeService::TritonModelConfig(const std::string& model) const {
  BW_ASSIGN_OR_RETURN(ModelConfig c, scheduler_.LoadedConfig(model));
  json engines = json::array();
  for (const auto& e : c.engines) engines.push_back(EngineKindName(e.engine));
  json instances = json::array();
  for (const auto& i : scheduler_.Instances(model)) {
    instances.push_back(
        {{"name", i.processor}, {"kind", i.simulated ? "KIND_MODEL" : "KIND_CPU"}, {"count", 1}});
  }
  return json{
      {"name", c.name},
      {"platform", Platform(c)},
      {"backend", c.engines.empty()                                 ? "batchwise"
                  : c.engines[0].engine == EngineKind::kTorchScript ? "pytorch"
                                                                    : "onnxruntime"},
      {"version_policy", {{"latest", {{"num_versions", 1}}}}},
      {"max_batch_size", c.max_batch_size},
      {"input", TritonTensors(c.inputs)},
      {"output", TritonTensors(c.outputs)},
      {"dynamic_batching", json::object()},
      {"instance_group", instances},
      {"parameters",
       {{"batchwise_kind", {{"string_value", c.kind}}},
        {"batchwise_latency_target_ms", {{"string_value", std::to_string(c.latency_target_ms)}}}}},
      {"batchwise", {{"engines", engines}, {"processor_kinds", c.processor_kinds}}}};
}

HttpResponse KServeService::Stats(const std::string& model) const {
  auto stats = scheduler_.StatsJson(model);
  if (!stats.ok()) return Error(stats.status());
  return Json(*stats);
}

HttpResponse KServeService::BatchwiseView(const std::string& view,
                                          const HttpRequest& request) const {
  if (view == "placements") return Json(scheduler_.PlacementsJson(QueryModel(request.query)));
  if (view == "processors") return Json({{"processors", scheduler_.ProcessorsJson()}});
  return Json({{"models", scheduler_.ModelsJson()}});
}

// --- Repository ---

HttpResponse KServeService::RepositoryIndexRoute(const HttpRequest& request) const {
  bool ready_only = false;
  if (!request.body->empty()) {
    json body = json::parse(*request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return Error(InvalidArgument("repository index: the body must be a JSON object"));
    }
    if (auto r = body.find("ready"); r != body.end()) {
      if (!r->is_boolean()) return Error(InvalidArgument("\"ready\" must be a boolean"));
      ready_only = r->get<bool>();
    }
  }
  auto entries = RepositoryIndex(ready_only);
  if (!entries.ok()) return Error(entries.status());
  json out = json::array();
  for (const auto& e : *entries) {
    json m = {{"name", e.name}, {"version", e.version}, {"state", e.state}};
    if (!e.reason.empty()) m["reason"] = e.reason;
    out.push_back(std::move(m));
  }
  return Json(out);
}

Result<std::vector<KServeService::RepositoryEntry>> KServeService::RepositoryIndex(
    bool ready_only) const {
  BW_ASSIGN_OR_RETURN(auto folders, ListModelFolders(options_.model_repository));
  std::vector<RepositoryEntry> out;
  for (const auto& folder : folders) {
    RepositoryEntry e;
    e.name = std::filesystem::path(folder).filename().string();
    const bool loaded = scheduler_.IsLoaded(e.name);
    if (ready_only && !loaded) continue;
    e.state = loaded ? "READY" : "UNAVAILABLE";
    if (!loaded) e.reason = ClientMessage(FailedLoad(e.name).value_or("unloaded"));
    out.push_back(std::move(e));
  }
  return out;
}

Status KServeService::AuthorizeAdmin(const std::string* authorization) const {
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

void KServeService::Repository(const Route& route, const HttpRequest& request,
                               const Responder& respond) {
  if (Status auth = AuthorizeAdmin(request.Header("authorization")); !auth.ok()) {
    HttpResponse r = Error(auth);
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return Answer(respond, "repository", std::move(r));
  }
  const auto action =
      route.kind == Kind::kLoad ? RepositoryAction::kLoad : RepositoryAction::kUnload;
  PostRepositoryAction(action, route.model, [this, respond](Status s) {
    Answer(respond, "repository", s.ok() ? Json(json::object()) : Error(s));
  });
}

void KServeService::PostRepositoryAction(RepositoryAction action, std::string model,
                                         std::function<void(Status)> done) {
  admin_->Post([this, action, model = std::move(model), done = std::move(done)] {
    const bool load = action == RepositoryAction::kLoad;
    Status s = load ? LoadFromRepository(model) : Unload(model);
    spdlog::info("repository {} '{}': {}", load ? "load" : "unload", model, s.ToString());
    done(std::move(s));
  });
}

std::string KServeService::NotReadyReason() const {
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

std::optional<std::string> KServeService::FailedLoad(const std::string& model) const {
  std::lock_guard<std::mutex> l(failed_mu_);
  auto it = failed_.find(model);
  if (it == failed_.end()) return std::nullopt;
  return it->second;
}

Status KServeService::Unload(const std::string& model) {
  bool forgotten = false;
  {
    std::lock_guard<std::mutex> l(failed_mu_);
    forgotten = failed_.erase(model) > 0;
  }
  Status s = scheduler_.UnloadModel(model);
  return forgotten && s.code() == StatusCode::kNotFound ? Status::Ok() : s;
}

Status KServeService::LoadFromRepository(const std::string& model) {
  Status s = LoadFolder(model);
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

Status KServeService::LoadFolder(const std::string& model) {
  const std::string folder =
      (std::filesystem::path(options_.model_repository) / model).string();
  const bool reload = scheduler_.IsLoaded(model);
  auto config = LoadModelConfig(folder);
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
