#include "common/perf_table.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

namespace batchwise {
namespace {

double Pick(const PerfCell& c, int percentile) {
  switch (percentile) {
    case 50: return c.latency_p50_ms;
    case 90: return c.latency_p90_ms;
    case 99: return c.latency_p99_ms;
    default: return c.latency_avg_ms;
  }
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, ',')) out.push_back(field);
  return out;
}

}  // namespace

double PerfTable::ProcessingPerformance() const {
  double best = 0;
  for (const auto& c : cells) best = std::max(best, c.throughput);
  return best;
}

int PerfTable::MaxUsefulInstances(double min_gain) const {
  std::map<int, double> best;  // instances -> best throughput
  for (const auto& c : cells) best[c.instances] = std::max(best[c.instances], c.throughput);
  int useful = 1;
  double prev = -1;
  for (const auto& [instances, tput] : best) {
    if (prev >= 0 && tput <= prev * (1 + min_gain)) break;
    useful = instances;
    prev = tput;
  }
  return useful;
}

double PerfTable::Capacity(int instances) const {
  int row = 0;
  for (const auto& c : cells) {
    if (c.instances <= instances) row = std::max(row, c.instances);
  }
  double best = 0;
  for (const auto& c : cells) {
    if (c.instances == row) best = std::max(best, c.throughput);
  }
  return best;
}

std::vector<PerfCell> PerfTable::Row(int instances) const {
  std::vector<PerfCell> row;
  for (const auto& c : cells) {
    if (c.instances == instances) row.push_back(c);
  }
  std::sort(row.begin(), row.end(),
            [](const PerfCell& a, const PerfCell& b) { return a.batch_size < b.batch_size; });
  return row;
}

Result<double> PerfTable::LatencyMs(double batch_size, int instances, int percentile) const {
  std::vector<PerfCell> row = Row(instances);
  if (row.empty()) {
    return NotFound("load-performance table for " + processor_id + " has no cells with " +
                    std::to_string(instances) + " instance(s)");
  }
  if (row.size() == 1 || batch_size <= row.front().batch_size) return Pick(row.front(), percentile);
  size_t hi = 1;
  while (hi + 1 < row.size() && row[hi].batch_size < batch_size) ++hi;
  const PerfCell& a = row[hi - 1];
  const PerfCell& b = row[hi];
  double t = (batch_size - a.batch_size) / static_cast<double>(b.batch_size - a.batch_size);
  return Pick(a, percentile) + t * (Pick(b, percentile) - Pick(a, percentile));
}

nlohmann::json PerfTable::ToJson() const {
  nlohmann::json cells_json = nlohmann::json::array();
  for (const auto& c : cells) {
    cells_json.push_back({{"batch_size", c.batch_size},
                          {"instances", c.instances},
                          {"throughput", c.throughput},
                          {"latency_avg_ms", c.latency_avg_ms},
                          {"latency_p50_ms", c.latency_p50_ms},
                          {"latency_p90_ms", c.latency_p90_ms},
                          {"latency_p99_ms", c.latency_p99_ms},
                          {"memory_bytes", c.memory_bytes},
                          {"utilization", c.utilization}});
  }
  return {{"format", kFormat},
          {"processor",
           {{"id", processor_id},
            {"kind", processor_kind},
            {"signature", processor_signature},
            {"simulated", simulated},
            {"source", source}}},
          {"model", {{"name", model_name}, {"hash", model_hash}, {"engine", engine}}},
          {"processing_performance", ProcessingPerformance()},
          {"max_useful_instances", MaxUsefulInstances()},
          {"cells", cells_json}};
}

Result<PerfTable> PerfTable::FromJson(const nlohmann::json& j) {
  try {
    if (j.value("format", "") != kFormat) {
      return InvalidArgument(std::string("not a load-performance table (format must be '") +
                             kFormat + "')");
    }
    PerfTable t;
    const auto& p = j.at("processor");
    t.processor_id = p.at("id").get<std::string>();
    t.processor_kind = p.value("kind", "cpu");
    t.processor_signature = p.value("signature", "");
    t.simulated = p.value("simulated", false);
    t.source = p.value("source", "");
    const auto& m = j.at("model");
    t.model_name = m.value("name", "");
    t.model_hash = m.value("hash", "");
    t.engine = m.value("engine", "");
    for (const auto& c : j.at("cells")) {
      PerfCell cell;
      cell.batch_size = c.at("batch_size").get<int>();
      cell.instances = c.value("instances", 1);
      cell.throughput = c.at("throughput").get<double>();
      cell.latency_avg_ms = c.at("latency_avg_ms").get<double>();
      cell.latency_p50_ms = c.value("latency_p50_ms", cell.latency_avg_ms);
      cell.latency_p90_ms = c.value("latency_p90_ms", cell.latency_avg_ms);
      cell.latency_p99_ms = c.value("latency_p99_ms", cell.latency_avg_ms);
      cell.memory_bytes = c.value("memory_bytes", uint64_t{0});
      cell.utilization = c.value("utilization", -1.0);
      if (cell.batch_size < 1 || cell.instances < 1 || cell.throughput < 0 ||
          cell.latency_avg_ms < 0) {
        return InvalidArgument("load-performance table cell has a non-positive batch size, "
                               "instance count, or negative throughput/latency");
      }
      t.cells.push_back(cell);
    }
    if (t.cells.empty()) return InvalidArgument("load-performance table has no cells");
    return t;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("malformed load-performance table: ") + e.what());
  }
}

Status PerfTable::Save(const std::string& path) const {
  std::ofstream out(path);
  if (!out) return Internal("cannot write " + path);
  out << ToJson().dump(2) << "\n";
  return out ? Status::Ok() : Internal("failed writing " + path);
}

Result<PerfTable> PerfTable::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot open load-performance table " + path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(path + ": not valid JSON");
  auto t = FromJson(j);
  if (!t.ok()) return t.status().WithContext(path);
  return t;
}

Result<PerfTable> PerfTable::FromPublishedCsv(const std::string& path,
                                              const std::string& processor) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot open " + path);
  PerfTable t;
  t.processor_id = processor;
  t.processor_kind = "gpu";
  t.processor_signature = "simulated:" + processor;
  t.simulated = true;
  t.source = "published figures (" + path + ")";
  t.model_name = "resnet50";
  t.engine = "simulated";
  std::string line;
  bool header_seen = false;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (!header_seen) {
      header_seen = true;
      continue;
    }
    auto f = SplitCsv(line);
    if (f.size() < 6) return InvalidArgument(path + ": expected 6 fields in '" + line + "'");
    if (f[0] != processor) continue;
    try {
      PerfCell c;
      c.batch_size = std::stoi(f[1]);
      c.throughput = std::stod(f[2]);
      c.latency_avg_ms = c.latency_p50_ms = std::stod(f[3]);
      c.latency_p90_ms = std::stod(f[4]);
      c.latency_p99_ms = std::stod(f[5]);
      t.cells.push_back(c);
    } catch (const std::exception&) {
      return InvalidArgument(path + ": bad number in '" + line + "'");
    }
  }
  if (t.cells.empty()) return NotFound(path + " has no rows for processor '" + processor + "'");
  return t;
}

}  // namespace batchwise
