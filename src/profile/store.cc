#include "profile/store.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace batchwise {
namespace fs = std::filesystem;

Result<std::string> HashFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  uint64_t h = 1469598103934665603ull;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buf[i]);
      h *= 1099511628211ull;
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string("fnv1a64:") + hex;
}

std::string ProfileStore::PathFor(const std::string& processor_id, const std::string& model,
                                  const std::string& engine) const {
  std::string name = model + "__" + processor_id + "__" + engine + ".json";
  for (char& c : name) {
    if (c == ':' || c == '/' || c == ' ') c = '_';
  }
  return (fs::path(folder_) / name).string();
}

std::optional<PerfTable> ProfileStore::Find(const std::string& processor_id,
                                            const std::string& signature, const std::string& model,
                                            const std::string& model_hash,
                                            const std::string& engine) const {
  auto t = PerfTable::Load(PathFor(processor_id, model, engine));
  if (!t.ok()) return std::nullopt;
  if (t->processor_signature != signature || t->model_hash != model_hash || t->engine != engine) {
    return std::nullopt;
  }
  return std::move(t).value();
}

Result<std::string> ProfileStore::Save(const PerfTable& table) const {
  std::error_code ec;
  fs::create_directories(folder_, ec);
  if (ec) return Internal("cannot create " + folder_ + ": " + ec.message());
  std::string path = PathFor(table.processor_id, table.model_name, table.engine);
  BW_RETURN_IF_ERROR(table.Save(path));
  return path;
}

}  // namespace batchwise
