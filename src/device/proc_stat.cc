#include "device/proc_stat.h"

#include <fstream>
#include <sstream>

namespace batchwise {
namespace {

// Parses "cpuN user nice system idle iowait irq softirq steal ..." (later fields optional).
Result<std::pair<int, CpuTicks>> ParseCpuLine(const std::string& line) {
  std::istringstream in(line.substr(3));
  int id = -1;
  uint64_t f[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  in >> id;
  int n = 0;
  while (n < 8 && in >> f[n]) ++n;
  if (id < 0 || n < 4) return InvalidArgument("malformed /proc/stat line '" + line + "'");
  const uint64_t busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  return std::make_pair(id, CpuTicks{busy, busy + f[3] + f[4]});
}

bool IsPerCpuLine(const std::string& line) {
  return line.size() > 3 && line.starts_with("cpu") && line[3] >= '0' && line[3] <= '9';
}

}  // namespace

Result<std::map<int, CpuTicks>> ReadProcStat(const std::string& proc_root) {
  const std::string path = proc_root + "/stat";
  std::ifstream in(path);
  if (!in) return NotFound("cannot open " + path);
  std::map<int, CpuTicks> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!IsPerCpuLine(line)) continue;
    BW_ASSIGN_OR_RETURN(auto entry, ParseCpuLine(line));
    out[entry.first] = entry.second;
  }
  return out;
}

CpuUsageMeter::CpuUsageMeter(std::string proc_root, std::vector<int> pus)
    : proc_root_(std::move(proc_root)), pus_(std::move(pus)) {}

Result<CpuTicks> CpuUsageMeter::SumTicks() const {
  BW_ASSIGN_OR_RETURN(auto all, ReadProcStat(proc_root_));
  CpuTicks sum;
  for (int pu : pus_) {
    auto it = all.find(pu);
    if (it == all.end())
      return NotFound("cpu" + std::to_string(pu) + " not in " + proc_root_ + "/stat");
    sum.busy += it->second.busy;
    sum.total += it->second.total;
  }
  return sum;
}

Result<double> CpuUsageMeter::Read() {
  BW_ASSIGN_OR_RETURN(CpuTicks now, SumTicks());
  CpuTicks before = previous_;
  bool had_baseline = primed_;
  previous_ = now;
  primed_ = true;
  if (!had_baseline) return FailedPrecondition("first /proc/stat sample: baseline only");
  if (now.total <= before.total || now.busy < before.busy) {
    return Unavailable("no CPU ticks elapsed since the previous sample");
  }
  double u = double(now.busy - before.busy) / double(now.total - before.total);
  return std::min(1.0, std::max(0.0, u));
}

}  // namespace batchwise
