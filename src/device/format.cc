#include "device/format.h"

#include <algorithm>
#include <cstdio>

namespace batchwise {

std::string CoreList(const std::vector<int>& cores) {
  std::string s;
  for (size_t i = 0; i < cores.size();) {
    size_t j = i;
    while (j + 1 < cores.size() && cores[j + 1] == cores[j] + 1) ++j;
    if (!s.empty()) s += ",";
    s += std::to_string(cores[i]);
    if (j > i) s += "-" + std::to_string(cores[j]);
    i = j + 1;
  }
  return s.empty() ? "-" : s;
}

namespace {

using nlohmann::json;

std::string Gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f GiB", double(bytes) / double(1ull << 30));
  return buf;
}

std::string Percent(bool available, double fraction) {
  if (!available) return "n/a";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100.0 * fraction);
  return buf;
}

double Milliseconds(TimePoint t) {
  return std::chrono::duration<double, std::milli>(t.time_since_epoch()).count();
}

const ProcessorState* FindState(const std::vector<ProcessorState>& states, const std::string& id) {
  auto it = std::find_if(states.begin(), states.end(), [&](const auto& s) { return s.id == id; });
  return it == states.end() ? nullptr : &*it;
}

using Row = std::vector<std::string>;

Row TableRow(const Processor& p, const ProcessorState* s) {
  return {p.id,
          std::string(ProcessorKindName(p.kind)),
          p.simulated ? "yes" : "no",
          CoreList(p.cores),
          Gib(p.memory_bytes),
          Percent(s && s->utilization_available, s ? s->utilization : 0),
          Percent(s && s->memory_available, s ? s->memory_utilization : 0),
          p.model};
}

std::string Render(const std::vector<Row>& rows) {
  std::vector<size_t> width(rows[0].size(), 0);
  for (const Row& r : rows) {
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  for (const Row& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c] + (c + 1 < r.size() ? std::string(width[c] - r[c].size() + 2, ' ') : "");
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

json ToJson(const Processor& p) {
  json j = {{"id", p.id},       {"kind", ProcessorKindName(p.kind)}, {"simulated", p.simulated},
            {"cores", p.cores}, {"memory_bytes", p.memory_bytes},    {"signature", p.signature},
            {"model", p.model}};
  if (p.gpu_index >= 0) j["gpu_index"] = p.gpu_index;
  if (p.table)
    j["table"] = {{"processor", p.table->processor_id},
                  {"model", p.table->model_name},
                  {"source", p.table->source}};
  return j;
}

json ToJson(const ProcessorState& s) {
  json j = {{"id", s.id}, {"timestamp_ms", Milliseconds(s.timestamp)}, {"samples", s.samples}};
  j["utilization"] = s.utilization_available ? json(s.utilization) : json(nullptr);
  j["utilization_raw"] = s.utilization_available ? json(s.utilization_raw) : json(nullptr);
  j["memory_utilization"] = s.memory_available ? json(s.memory_utilization) : json(nullptr);
  j["memory_utilization_raw"] = s.memory_available ? json(s.memory_utilization_raw) : json(nullptr);
  j["memory_used_bytes"] = s.memory_used_bytes;
  j["memory_total_bytes"] = s.memory_total_bytes;
  if (!s.status.ok()) j["status"] = s.status.ToString();
  return j;
}

json ToJson(const std::vector<Processor>& processors, const std::vector<ProcessorState>& states) {
  json out = json::array();
  for (const Processor& p : processors) {
    json j = ToJson(p);
    const ProcessorState* s = FindState(states, p.id);
    j["state"] = s ? ToJson(*s) : json(nullptr);
    out.push_back(std::move(j));
  }
  return out;
}

std::string FormatProcessorTable(const std::vector<Processor>& processors,
                                 const std::vector<ProcessorState>& states) {
  std::vector<Row> rows = {{"ID", "KIND", "SIM", "CORES", "MEMORY", "UTIL", "MEM-UTIL", "MODEL"}};
  for (const Processor& p : processors) rows.push_back(TableRow(p, FindState(states, p.id)));
  return Render(rows);
}

}  // namespace batchwise
