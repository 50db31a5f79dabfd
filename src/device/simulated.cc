#include "device/simulated.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace batchwise {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kDeclarationFormat = "batchwise.simulated_processors/1";

// FNV-1a over the cells' numbers: the table's identity beyond its name.
std::string CellsHash(const PerfTable& table) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](double v) {
    char buf[32];
    int n = std::snprintf(buf, sizeof(buf), "%.6g;", v);
    for (int i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 1099511628211ull;
  };
  for (const PerfCell& c : table.cells) {
    for (double v : {double(c.batch_size), double(c.instances), c.throughput, c.latency_avg_ms,
                     c.latency_p90_ms, c.latency_p99_ms}) {
      mix(v);
    }
  }
  char out[17];
  std::snprintf(out, sizeof(out), "%016llx", static_cast<unsigned long long>(h));
  return std::string(out, 8);
}

bool ValidName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  }
  return true;
}

// "table": {"json": "x.json"} or {"csv": "y.csv", "processor": "a100-80gb"}.
Result<PerfTable> LoadTable(const json& spec, const fs::path& dir) {
  if (!spec.is_object()) return InvalidArgument("'table' must be an object");
  if (spec.contains("json"))
    return PerfTable::Load((dir / spec.at("json").get<std::string>()).string());
  if (spec.contains("csv")) {
    if (!spec.contains("processor")) return InvalidArgument("a 'csv' table needs 'processor'");
    return PerfTable::FromPublishedCsv((dir / spec.at("csv").get<std::string>()).string(),
                                       spec.at("processor").get<std::string>());
  }
  return InvalidArgument("'table' needs 'json' or 'csv' + 'processor'");
}

Result<uint64_t> MemoryBytes(const json& j) {
  if (j.contains("memory_bytes")) return j.at("memory_bytes").get<uint64_t>();
  if (j.contains("memory_gib"))
    return static_cast<uint64_t>(j.at("memory_gib").get<double>() * (1ull << 30));
  return InvalidArgument("needs 'memory_bytes' or 'memory_gib'");
}

Result<Processor> ParseOne(const json& j, const fs::path& dir) {
  std::string name = j.value("name", "");
  if (!ValidName(name))
    return InvalidArgument("'name' must be non-empty [A-Za-z0-9._-], got '" + name + "'");
  Processor p;
  p.id = "sim:" + name;
  p.simulated = true;
  auto kind = ParseProcessorKind(j.value("kind", ""));
  if (!kind.ok()) return kind.status().WithContext(p.id);
  p.kind = *kind;
  auto memory = MemoryBytes(j);
  if (!memory.ok() || *memory == 0)
    return InvalidArgument(p.id +
                           ": needs a positive memory size ('memory_bytes' or 'memory_gib')");
  p.memory_bytes = *memory;
  auto table = LoadTable(j.value("table", json()), dir);
  if (!table.ok()) return table.status().WithContext(p.id);
  p.model = j.value("model", table->processor_id) + " (simulated)";
  p.signature = SimulatedSignature(*table, p.memory_bytes);
  p.table = std::make_shared<const PerfTable>(std::move(table).value());
  p.load = std::make_shared<SimulatedLoad>(p.memory_bytes);
  return p;
}

Result<std::vector<Processor>> ParseDeclaration(const json& doc, const fs::path& dir) {
  if (doc.value("format", "") != kDeclarationFormat) {
    return InvalidArgument(std::string("'format' must be \"") + kDeclarationFormat + "\"");
  }
  std::vector<Processor> out;
  for (const json& j : doc.value("processors", json::array())) {
    BW_ASSIGN_OR_RETURN(Processor p, ParseOne(j, dir));
    for (const Processor& q : out) {
      if (q.id == p.id) return AlreadyExists("two simulated processors named " + p.id);
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

void SimulatedLoad::AddBusy(Duration busy) {
  std::lock_guard<std::mutex> l(mu_);
  if (busy > Duration::zero()) busy_total_ += busy;
}

Status SimulatedLoad::Reserve(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  if (bytes > memory_bytes_ - reserved_) {
    return ResourceExhausted("reserving " + std::to_string(bytes) + " bytes: only " +
                             std::to_string(memory_bytes_ - reserved_) + " free");
  }
  reserved_ += bytes;
  return Status::Ok();
}

void SimulatedLoad::Release(uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  reserved_ -= std::min(bytes, reserved_);
}

Duration SimulatedLoad::busy_total() const {
  std::lock_guard<std::mutex> l(mu_);
  return busy_total_;
}

uint64_t SimulatedLoad::reserved_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return reserved_;
}

std::string SimulatedSignature(const PerfTable& table, uint64_t memory_bytes) {
  return "simulated:" + table.processor_id + "/" + table.model_name + "#" + CellsHash(table) +
         "|mem_bytes=" + std::to_string(memory_bytes);
}

Result<std::vector<Processor>> LoadSimulatedProcessors(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot open simulated processor declaration " + path);
  try {
    json doc = json::parse(in);
    auto out = ParseDeclaration(doc, fs::path(path).parent_path());
    if (!out.ok()) return out.status().WithContext(path);
    return out;
  } catch (const json::exception& e) {
    return InvalidArgument(path + ": " + e.what());
  }
}

}  // namespace batchwise
