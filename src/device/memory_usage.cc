#include "device/memory_usage.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace batchwise {
namespace {

namespace fs = std::filesystem;

// The cgroup a process's memory belongs to, from /proc/self/cgroup.
struct CgroupPath {
  MemorySourceKind kind = MemorySourceKind::kMeminfo;  // kMeminfo: in no memory cgroup
  std::string path;                                    // "/a/b", relative to the hierarchy root
};

// A v1 line "4:memory:/x" (controllers may be a list "4:cpu,memory:/x") wins over the v2 line
// "0::/x": on a hybrid system the v2 hierarchy carries no memory controller.
CgroupPath ParseProcCgroup(std::istream& in) {
  CgroupPath v2, out;
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",";
    std::string path = line.substr(b + 1);
    if (controllers.find(",memory,") != std::string::npos)
      return {MemorySourceKind::kCgroupV1, path};
    if (line.starts_with("0::")) v2 = {MemorySourceKind::kCgroupV2, path};
  }
  return v2;
}

Result<std::string> ReadFirstLine(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  if (!in || !std::getline(in, s)) return NotFound("cannot read " + p.string());
  return s;
}

// A limit file's value; "max" (v2) or a number >= threshold → 0 meaning "no limit".
Result<uint64_t> ReadLimit(const fs::path& p, uint64_t threshold) {
  BW_ASSIGN_OR_RETURN(std::string s, ReadFirstLine(p));
  if (s == "max") return uint64_t{0};
  try {
    uint64_t v = std::stoull(s);
    return v >= threshold ? 0 : v;
  } catch (const std::exception&) {
    return InvalidArgument(p.string() + ": '" + s + "' is not a byte count");
  }
}

Result<uint64_t> ReadBytes(const fs::path& p) {
  BW_ASSIGN_OR_RETURN(std::string s, ReadFirstLine(p));
  try {
    return uint64_t{std::stoull(s)};
  } catch (const std::exception&) {
    return InvalidArgument(p.string() + ": '" + s + "' is not a byte count");
  }
}

// A "key value" entry of a memory.stat or meminfo-like file; 0 if absent.
uint64_t StatValue(const fs::path& p, std::string_view key) {
  std::ifstream in(p);
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

uint64_t MinLimit(uint64_t a, uint64_t b) { return a == 0 ? b : (b == 0 ? a : std::min(a, b)); }

// Inside a cgroup namespace the hierarchy is mounted at the process's own cgroup, so the path
// from /proc/self/cgroup may not exist below the mount: then the mount root is that cgroup.
fs::path CgroupDir(const fs::path& mount, const std::string& path) {
  fs::path dir = mount / fs::path(path).relative_path();
  std::error_code ec;
  return fs::is_directory(dir, ec) ? dir : mount;
}

// v2: the tightest memory.max from the cgroup up to the mount root. The host's root cgroup has
// no memory.max; inside a cgroup namespace (Docker) the mount root is the container's cgroup and
// carries its limit.
Result<uint64_t> V2Limit(const fs::path& mount, const fs::path& leaf, uint64_t threshold) {
  uint64_t limit = 0;
  bool found = false;
  for (fs::path dir = leaf;; dir = dir.parent_path()) {
    auto l = ReadLimit(dir / "memory.max", threshold);
    if (l.ok()) {
      found = true;
      limit = MinLimit(limit, *l);
    }
    if (dir == mount || !dir.has_relative_path()) break;
  }
  if (!found) return NotFound("no memory.max at or above " + leaf.string());
  return limit;
}

Result<uint64_t> V1Limit(const fs::path& dir, uint64_t threshold) {
  BW_ASSIGN_OR_RETURN(uint64_t limit, ReadLimit(dir / "memory.limit_in_bytes", threshold));
  uint64_t hierarchical = StatValue(dir / "memory.stat", "hierarchical_memory_limit");
  return MinLimit(limit, hierarchical >= threshold ? 0 : hierarchical);
}

}  // namespace

std::string_view MemorySourceKindName(MemorySourceKind kind) {
  switch (kind) {
    case MemorySourceKind::kCgroupV2:
      return "cgroup-v2";
    case MemorySourceKind::kCgroupV1:
      return "cgroup-v1";
    case MemorySourceKind::kMeminfo:
      return "meminfo";
  }
  return "unknown";
}

Result<MemoryUsage> MemoryReader::ReadCgroup() const {
  std::ifstream in(options_.proc_root + "/self/cgroup");
  CgroupPath cg = ParseProcCgroup(in);
  if (cg.kind == MemorySourceKind::kMeminfo) return NotFound("in no memory cgroup");
  const bool v2 = cg.kind == MemorySourceKind::kCgroupV2;
  const fs::path mount =
      v2 ? fs::path(options_.cgroup_root) : fs::path(options_.cgroup_root) / "memory";
  const fs::path dir = CgroupDir(mount, cg.path);
  const uint64_t t = options_.no_limit_threshold_bytes;
  BW_ASSIGN_OR_RETURN(uint64_t limit, v2 ? V2Limit(mount, dir, t) : V1Limit(dir, t));
  if (limit == 0) return NotFound("memory cgroup " + dir.string() + " has no limit");
  BW_ASSIGN_OR_RETURN(uint64_t usage,
                      ReadBytes(dir / (v2 ? "memory.current" : "memory.usage_in_bytes")));
  uint64_t inactive = StatValue(dir / "memory.stat", v2 ? "inactive_file" : "total_inactive_file");
  return MemoryUsage{cg.kind, usage > inactive ? usage - inactive : 0, limit, dir.string()};
}

Result<MemoryUsage> MemoryReader::ReadMeminfo() const {
  const std::string path = options_.proc_root + "/meminfo";
  if (!fs::exists(path)) return NotFound("cannot open " + path);
  uint64_t total_kb = StatValue(path, "MemTotal:");
  uint64_t available_kb = StatValue(path, "MemAvailable:");
  if (total_kb == 0) return InvalidArgument(path + " has no MemTotal");
  uint64_t used_kb = total_kb > available_kb ? total_kb - available_kb : 0;
  return MemoryUsage{MemorySourceKind::kMeminfo, used_kb * 1024, total_kb * 1024, path};
}

Result<MemoryUsage> MemoryReader::Read() const {
  auto meminfo = ReadMeminfo();
  auto cgroup = ReadCgroup();
  if (cgroup.ok() && (!meminfo.ok() || cgroup->limit_bytes < meminfo->limit_bytes)) return cgroup;
  if (meminfo.ok()) return meminfo;
  return NotFound("no memory source: " + meminfo.status().message() + "; " +
                  cgroup.status().message());
}

}  // namespace batchwise
