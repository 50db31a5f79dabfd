#include "frontend/kserve_http.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "frontend/http_status.h"
#include "frontend/kserve_codec.h"
#include "frontend/shared_memory_http.h"

namespace batchwise {

using nlohmann::json;

struct KServeHttp::Route {
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
  std::string version;   // /v2/models/<m>/versions/<v>/...: <v>; else empty
};

namespace {

using Route = KServeHttp::Route;
using Kind = KServeHttp::Route::Kind;

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
  BW_RETURN_IF_ERROR(InferenceService::CheckModelName(name));
  return name;
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
  std::string version;  // checked against the loaded model's when dispatched
  if (s.size() > 3 && s[3] == "versions") {
    if (s.size() < 5) return NotFound("no route: a version is missing after /versions");
    version = std::string(s[4]);
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
  r.version = std::move(version);
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

// Triton's load request body: {"parameters": {"config": "<model config as JSON>"}}; an empty
// body or one without it loads the folder's config ("" here).
Result<std::string> LoadConfigParameter(const std::string& body) {
  if (body.empty()) return std::string();
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("load request body is not a JSON object");
  }
  if (!j.contains("parameters") || !j["parameters"].contains("config")) return std::string();
  const json& c = j["parameters"]["config"];
  if (!c.is_string() || c.get<std::string>().empty()) {
    return InvalidArgument("parameters.config must be a model config as a JSON string");
  }
  return c.get<std::string>();
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

json TensorsMetadata(const std::vector<TensorSpec>& specs) {
  json out = json::array();
  for (const auto& t : specs) {
    out.push_back({{"name", t.name}, {"datatype", DataTypeName(t.dtype)}, {"shape", t.shape}});
  }
  return out;
}

// Triton's JSON mapping of ModelInput/ModelOutput.
json TritonTensorsJson(const std::vector<TritonTensorConfig>& tensors) {
  json out = json::array();
  for (const auto& t : tensors) {
    out.push_back({{"name", t.name},
                   {"data_type", TritonTypeName(t.dtype)},
                   {"dims", t.dims},
                   {"format", "FORMAT_NONE"}});
  }
  return out;
}

// Triton's JSON mapping of its ModelConfig message, plus Batchwise's own "batchwise" section.
json TritonConfigJson(const TritonModelConfig& c) {
  json instances = json::array();
  for (const auto& g : c.instance_groups) {
    instances.push_back({{"name", g.name}, {"kind", g.kind}, {"count", g.count}});
  }
  json parameters = json::object();
  for (const auto& [key, value] : c.parameters) parameters[key] = {{"string_value", value}};
  return json{{"name", c.name},
              {"platform", c.platform},
              {"backend", c.backend},
              {"version_policy", {{"latest", {{"num_versions", c.latest_versions}}}}},
              {"max_batch_size", c.max_batch_size},
              {"input", TritonTensorsJson(c.inputs)},
              {"output", TritonTensorsJson(c.outputs)},
              {"dynamic_batching", json::object()},
              {"instance_group", instances},
              {"parameters", parameters},
              {"batchwise", {{"engines", c.engines}, {"processor_kinds", c.processor_kinds}}}};
}

}  // namespace

void KServeHttp::Answer(const Responder& respond, const std::string& endpoint,
                        HttpResponse response) const {
  if (ServerMetrics* m = service_.metrics(); m != nullptr) m->RecordHttp(endpoint, response.status);
  respond(std::move(response));
}

void KServeHttp::Handle(HttpRequest request, Responder respond) {
  if (auto shm = HandleSharedMemoryRoute(service_.shared_memory(), request)) {
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
  if (Status v = service_.CheckModelVersion(route->model, route->version); !v.ok()) {
    return Answer(respond, route->endpoint, Error(v));
  }
  bool answered = false;
  HttpResponse r = Dispatch(*route, request, respond, answered);
  if (!answered) Answer(respond, route->endpoint, std::move(r));
}

std::optional<HttpResponse> KServeHttp::BeforeBody(const HttpRequest& head) const {
  Result<Route> route = ParseRoute(head.path);
  if (!route.ok() || route->kind != Kind::kInfer || head.method != route->method) {
    return std::nullopt;
  }
  Status s = service_.AdmitBeforeBody(route->model, head.received);
  if (s.ok()) return std::nullopt;
  HttpResponse refused = Error(s);
  if (ServerMetrics* m = service_.metrics(); m != nullptr) m->RecordHttp("infer", refused.status);
  return refused;
}

HttpResponse KServeHttp::Dispatch(const Route& route, const HttpRequest& request,
                                  const Responder& respond, bool& answered) {
  switch (route.kind) {
    case Kind::kServerMetadata:
      return ServerMetadata();
    case Kind::kLive:
      return {200, "application/json", {}, ""};
    case Kind::kReady:
      if (std::string why = service_.NotReadyReason(); !why.empty()) {
        return Error(Unavailable(why));
      }
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

void KServeHttp::Infer(const std::string& model, const HttpRequest& request,
                       const Responder& respond) {
  const TimePoint start = service_.clock().Now();
  auto fail = [&](const Status& s) {
    service_.RecordInferOutcome(model, s, start);
    Answer(respond, "infer", Error(s));
  };
  if (Status loaded = service_.CheckLoaded(model); !loaded.ok()) return fail(loaded);
  std::optional<size_t> json_size;
  if (const std::string* h = request.Header("inference-header-content-length")) {
    auto n = kserve::ParseJsonHeaderLength(*h);
    if (!n.ok()) return fail(n.status());
    json_size = *n;
  }
  auto decoded = kserve::DecodeInferRequest(request.body, json_size, &service_.shared_memory());
  if (!decoded.ok()) return fail(decoded.status());
  decoded->request.model = model;
  decoded->request.received = request.received;
  kserve::OutputEncoding encoding = std::move(decoded->encoding);
  Status s = service_.SubmitInfer(std::move(decoded->request), [this, respond, encoding, start,
                                                                model](Status st, InferResponse r) {
    respond.Later([this, st, r = std::move(r), encoding, start, model] {
      HttpResponse out;
      auto encoded =
          st.ok() ? kserve::EncodeInferResponse(r, encoding) : Result<kserve::EncodedResponse>(st);
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
      service_.RecordInferOutcome(model, encoded.status(), start);
      if (ServerMetrics* m = service_.metrics(); m != nullptr) m->RecordHttp("infer", out.status);
      return out;
    });
  });
  if (!s.ok()) fail(s);
}

// --- Metadata, configuration, statistics ---

HttpResponse KServeHttp::ServerMetadata() const {
  return Json({{"name", InferenceService::kServerName},
               {"version", service_.server_version()},
               {"extensions", InferenceService::Extensions()}});
}

HttpResponse KServeHttp::ModelMetadata(const std::string& model) const {
  auto m = service_.Metadata(model);
  if (!m.ok()) return Error(m.status());
  return Json({{"name", m->name},
               {"versions", m->versions},
               {"platform", m->platform},
               {"inputs", TensorsMetadata(m->inputs)},
               {"outputs", TensorsMetadata(m->outputs)}});
}

HttpResponse KServeHttp::ModelReady(const std::string& model) const {
  if (Status s = service_.ModelReadiness(model); !s.ok()) return Error(s);
  return {200, "application/json", {}, ""};
}

HttpResponse KServeHttp::ModelConfigJson(const std::string& model) const {
  auto config = service_.TritonConfig(model);
  if (!config.ok()) return Error(config.status());
  return Json(TritonConfigJson(*config));
}

HttpResponse KServeHttp::Stats(const std::string& model) const {
  auto stats = service_.StatsJson(model);
  if (!stats.ok()) return Error(stats.status());
  return Json(*stats);
}

HttpResponse KServeHttp::BatchwiseView(const std::string& view, const HttpRequest& request) const {
  if (view == "placements") return Json(service_.PlacementsJson(QueryModel(request.query)));
  if (view == "processors") return Json({{"processors", service_.ProcessorsJson()}});
  return Json({{"models", service_.ModelsJson()}});
}

// --- Repository ---

HttpResponse KServeHttp::RepositoryIndexRoute(const HttpRequest& request) const {
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
  auto entries = service_.RepositoryIndex(ready_only);
  if (!entries.ok()) return Error(entries.status());
  json out = json::array();
  for (const auto& e : *entries) {
    json m = {{"name", e.name}, {"version", e.version}, {"state", e.state}};
    if (!e.reason.empty()) m["reason"] = e.reason;
    out.push_back(std::move(m));
  }
  return Json(out);
}

void KServeHttp::Repository(const Route& route, const HttpRequest& request,
                            const Responder& respond) {
  if (Status auth = service_.AuthorizeAdmin(request.Header("authorization")); !auth.ok()) {
    HttpResponse r = Error(auth);
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return Answer(respond, "repository", std::move(r));
  }
  const bool load = route.kind == Kind::kLoad;
  auto config_json = load ? LoadConfigParameter(*request.body) : Result<std::string>("");
  if (!config_json.ok()) return Answer(respond, "repository", Error(config_json.status()));
  service_.PostRepositoryAction(
      load ? InferenceService::RepositoryAction::kLoad
           : InferenceService::RepositoryAction::kUnload,
      route.model,
      [this, respond](Status s) {
        Answer(respond, "repository", s.ok() ? Json(json::object()) : Error(s));
      },
      std::move(config_json).value());
}

}  // namespace batchwise
