#include "frontend/shared_memory_http.h"

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "frontend/http_status.h"

namespace batchwise {

const char kCudaSharedMemoryUnsupported[] =
    "CUDA shared memory is not supported: Batchwise builds every batch in host memory and its "
    "frontend has no CUDA runtime to open a CUDA IPC handle; use system shared memory "
    "(/v2/systemsharedmemory, SystemSharedMemoryRegister)";

namespace {

using nlohmann::json;

HttpResponse Answer(const Status& s, json body = json::object()) {
  if (!s.ok()) return {HttpStatusFor(s.code()), "application/json", {}, ErrorBody(s.message())};
  return {200, "application/json", {}, body.dump()};
}

HttpResponse MethodNotAllowed(const HttpRequest& request, const char* method) {
  return {
      HttpStatusFor(TransportError::kMethodNotAllowed),
      "application/json",
      {},
      ErrorBody(request.method + " is not allowed on " + request.path + " (use " + method + ")")};
}

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    const size_t j = std::min(path.find('/', i), path.size());
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Body {"key": string, "offset": unsigned (default 0), "byte_size": unsigned}.
Status Register(SharedMemoryRegistry& registry, const std::string& name, const std::string& body) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return InvalidArgument("the register request must be a JSON object");
  auto key = j.find("key");
  if (key == j.end() || !key->is_string()) return InvalidArgument("\"key\" must be a string");
  auto unsigned_field = [&](const char* field, bool required) -> Result<uint64_t> {
    auto it = j.find(field);
    if (it == j.end() && !required) return uint64_t{0};
    if (it == j.end() || !it->is_number_unsigned()) {
      return InvalidArgument(std::string("\"") + field + "\" must be a non-negative integer");
    }
    return it->get<uint64_t>();
  };
  BW_ASSIGN_OR_RETURN(uint64_t offset, unsigned_field("offset", false));
  BW_ASSIGN_OR_RETURN(uint64_t byte_size, unsigned_field("byte_size", true));
  return registry.Register(name, key->get<std::string>(), offset, byte_size);
}

HttpResponse StatusRoute(const SharedMemoryRegistry& registry, const std::string& name) {
  auto regions = registry.List(name);
  if (!regions.ok()) return Answer(regions.status());
  json out = json::array();
  for (const auto& r : *regions) {
    out.push_back(
        {{"name", r.name}, {"key", r.key}, {"offset", r.offset}, {"byte_size", r.byte_size}});
  }
  return Answer(Status::Ok(), std::move(out));
}

}  // namespace

std::optional<HttpResponse> HandleSharedMemoryRoute(SharedMemoryRegistry& registry,
                                                    const HttpRequest& request) {
  const auto s = Segments(request.path);
  if (s.size() < 2 || s[0] != "v2") return std::nullopt;
  if (s[1] == "cudasharedmemory") return Answer(Unimplemented(kCudaSharedMemoryUnsupported));
  if (s[1] != "systemsharedmemory") return std::nullopt;
  // [region, <name>,] action
  std::string name;
  std::string_view action;
  if (s.size() == 3) {
    action = s[2];
  } else if (s.size() == 5 && s[2] == "region") {
    name = std::string(s[3]);
    action = s[4];
    if (name.find('%') != std::string::npos) {
      return Answer(InvalidArgument("region names with %-escapes are not supported"));
    }
  } else {
    return Answer(NotFound("no such route under /v2/systemsharedmemory"));
  }
  if (action == "status") {
    if (request.method != "GET") return MethodNotAllowed(request, "GET");
    return StatusRoute(registry, name);
  }
  if (request.method != "POST" && (action == "register" || action == "unregister")) {
    return MethodNotAllowed(request, "POST");
  }
  if (action == "register" && !name.empty()) return Answer(Register(registry, name, *request.body));
  if (action == "unregister") {
    if (name.empty()) {
      registry.UnregisterAll();
      return Answer(Status::Ok());
    }
    return Answer(registry.Unregister(name));
  }
  return Answer(NotFound("no such route under /v2/systemsharedmemory"));
}

}  // namespace batchwise
