// /proc/stat readers: per-logical-CPU tick counters and a meter that turns two readings of a set of
// CPUs into a utilisation.
//
// ReadProcStat is a pure function of the file. CpuUsageMeter keeps the previous counters: it is
// not synchronised (its owner, one StateSource, is only read by the monitor under its lock).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace batchwise {

// Ticks of one "cpuN" line. busy = user + nice + system + irq + softirq + steal;
// total = busy + idle + iowait (guest time is already inside user/nice, so it is not added).
struct CpuTicks {
  uint64_t busy = 0;
  uint64_t total = 0;
};

// Parses the per-CPU "cpuN ..." lines of `<proc_root>/stat` (the aggregate "cpu" line is
// skipped). NotFound if the file is missing, InvalidArgument if a cpuN line is malformed.
Result<std::map<int, CpuTicks>> ReadProcStat(const std::string& proc_root);

// Utilisation of exactly the CPUs `pus` (OS ids) between consecutive Read() calls:
// sum of busy deltas / sum of total deltas, in [0,1].
class CpuUsageMeter {
 public:
  CpuUsageMeter(std::string proc_root, std::vector<int> pus);

  // The first successful call only records a baseline and returns FailedPrecondition; later
  // calls return the utilisation since the previous successful call. Unavailable if no tick
  // elapsed; NotFound if the file or one of the CPUs' lines is missing.
  Result<double> Read();

 private:
  Result<CpuTicks> SumTicks() const;

  std::string proc_root_;
  std::vector<int> pus_;
  bool primed_ = false;
  CpuTicks previous_;
};

}  // namespace batchwise
