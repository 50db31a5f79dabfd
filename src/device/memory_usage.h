// Host memory in use, from the process's memory cgroup (v2 or v1) when it has a limit, else from
// /proc/meminfo.
//
// MemoryReader holds only its options: reading is stateless and safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace batchwise {

enum class MemorySourceKind { kCgroupV2, kCgroupV1, kMeminfo };
std::string_view MemorySourceKindName(
    MemorySourceKind kind);  // "cgroup-v2", "cgroup-v1", "meminfo"

struct MemoryUsage {
  MemorySourceKind source = MemorySourceKind::kMeminfo;
  uint64_t used_bytes = 0;
  uint64_t limit_bytes = 0;  // > 0
  std::string path;          // the directory or file it came from
  double utilization() const { return std::min(1.0, double(used_bytes) / double(limit_bytes)); }
};

class MemoryReader {
 public:
  struct Options {
    // Root of the proc file system ("self/cgroup", "meminfo" are read below it).
    std::string proc_root = "/proc";
    // Where the cgroup hierarchies are mounted: v1 controllers at <root>/memory, v2 at <root>.
    std::string cgroup_root = "/sys/fs/cgroup";
    // A cgroup limit at or above this is "no limit" (v1 reports 2^63 - 4096 for unlimited).
    uint64_t no_limit_threshold_bytes = uint64_t{1} << 60;
  };

  explicit MemoryReader(Options options) : options_(std::move(options)) {}

  // Cgroup limit and usage when the memory cgroup has a limit below both the threshold and
  // MemTotal; otherwise MemTotal - MemAvailable of MemTotal. Usage excludes inactive file cache
  // (the kubelet's "working set"). NotFound when no source can be read.
  Result<MemoryUsage> Read() const;

  const Options& options() const { return options_; }

 private:
  Result<MemoryUsage> ReadCgroup() const;
  Result<MemoryUsage> ReadMeminfo() const;

  Options options_;
};

}  // namespace batchwise
