// DiscoverCpuTopology(): the CPU as hwloc sees it (cores in logical order, PUs by OS index).
#include <hwloc.h>

#include <fstream>

#include "device/processor.h"

namespace batchwise {
namespace {

// Owns one loaded hwloc topology; destroyed with the object.
class HwlocTopology {
 public:
  HwlocTopology() = default;
  ~HwlocTopology() {
    if (initialised_) hwloc_topology_destroy(topo_);
  }
  HwlocTopology(const HwlocTopology&) = delete;
  HwlocTopology& operator=(const HwlocTopology&) = delete;

  Status Load() {
    if (hwloc_topology_init(&topo_) != 0) return Internal("hwloc_topology_init failed");
    initialised_ = true;
    if (hwloc_topology_load(topo_) != 0) return Internal("hwloc_topology_load failed");
    return Status::Ok();
  }
  hwloc_topology_t get() const { return topo_; }

 private:
  hwloc_topology_t topo_ = nullptr;
  bool initialised_ = false;
};

std::string ModelFromCpuinfo() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("model name")) continue;
    size_t colon = line.find(':');
    if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
  }
  return "";
}

// MemTotal in bytes, or 0. Preferred over hwloc's NUMA totals, which some sandboxes report
// differently from /proc/meminfo (what the monitor's memory source reads).
uint64_t MemTotalBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") return kb * 1024;
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

std::string ModelName(hwloc_topology_t topo) {
  hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
  const char* model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : nullptr;
  if (model && *model) return model;
  std::string from_cpuinfo = ModelFromCpuinfo();
  return from_cpuinfo.empty() ? "unknown" : from_cpuinfo;
}

std::vector<int> PusOf(hwloc_topology_t topo, hwloc_obj_t core) {
  std::vector<int> pus;
  int n = hwloc_get_nbobjs_inside_cpuset_by_type(topo, core->cpuset, HWLOC_OBJ_PU);
  for (int i = 0; i < n; ++i) {
    hwloc_obj_t pu = hwloc_get_obj_inside_cpuset_by_type(topo, core->cpuset, HWLOC_OBJ_PU, i);
    pus.push_back(static_cast<int>(pu->os_index));
  }
  return pus;
}

}  // namespace

Result<CpuTopology> DiscoverCpuTopology() {
  HwlocTopology topo;
  BW_RETURN_IF_ERROR(topo.Load());
  CpuTopology t;
  t.model = ModelName(topo.get());
  t.packages = std::max(1, hwloc_get_nbobjs_by_type(topo.get(), HWLOC_OBJ_PACKAGE));
  int n_cores = hwloc_get_nbobjs_by_type(topo.get(), HWLOC_OBJ_CORE);
  for (int i = 0; i < n_cores; ++i) {
    t.cores.push_back(PusOf(topo.get(), hwloc_get_obj_by_type(topo.get(), HWLOC_OBJ_CORE, i)));
  }
  if (t.cores.empty()) {  // no core objects (some VMs): one core per PU
    int n_pus = hwloc_get_nbobjs_by_type(topo.get(), HWLOC_OBJ_PU);
    for (int i = 0; i < n_pus; ++i) {
      t.cores.push_back(
          {static_cast<int>(hwloc_get_obj_by_type(topo.get(), HWLOC_OBJ_PU, i)->os_index)});
    }
  }
  t.memory_bytes = MemTotalBytes();
  if (t.memory_bytes == 0) t.memory_bytes = hwloc_get_root_obj(topo.get())->total_memory;
  return t;
}

}  // namespace batchwise
