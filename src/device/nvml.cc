#include "device/nvml.h"

#include <dlfcn.h>

namespace batchwise {
namespace {

// The few NVML types, declared as nvml.h does (ABI-stable since NVML 5).
using nvmlReturn_t = int;  // enum; NVML_SUCCESS == 0
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlUtilization_t {
  unsigned int gpu;     // percent of the sample period a kernel was running
  unsigned int memory;  // percent of the period device memory was read or written
};
struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr unsigned kNameLength = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE

template <typename F>
Status Resolve(void* handle, const char* name, F*& fn) {
  fn = reinterpret_cast<F*>(dlsym(handle, name));
  return fn ? Status::Ok() : Unavailable(std::string("NVML has no symbol ") + name);
}

}  // namespace

struct NvmlLibrary::Api {
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*handle_by_index)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned int) = nullptr;

  Status ResolveAll(void* h) {
    BW_RETURN_IF_ERROR(Resolve(h, "nvmlInit_v2", init));
    BW_RETURN_IF_ERROR(Resolve(h, "nvmlShutdown", shutdown));
    BW_RETURN_IF_ERROR(Resolve(h, "nvmlDeviceGetCount_v2", count));
    BW_RETURN_IF_ERROR(Resolve(h, "nvmlDeviceGetHandleByIndex_v2", handle_by_index));
    BW_RETURN_IF_ERROR(Resolve(h, "nvmlDeviceGetUtilizationRates", utilization));
    BW_RETURN_IF_ERROR(Resolve(h, "nvmlDeviceGetMemoryInfo", memory));
    BW_RETURN_IF_ERROR(Resolve(h, "nvmlDeviceGetUUID", uuid));
    return Resolve(h, "nvmlDeviceGetName", name);
  }
};

namespace {

Status Check(nvmlReturn_t rc, const char* what) {
  if (rc == 0) return Status::Ok();
  return Unavailable(std::string(what) + " failed with NVML error " + std::to_string(rc));
}

}  // namespace

Result<std::shared_ptr<NvmlLibrary>> NvmlLibrary::Load(const std::string& soname) {
  void* handle = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return NotFound("cannot load " + soname + " (no NVIDIA driver): " + dlerror());
  auto api = std::make_unique<Api>();
  Status s = api->ResolveAll(handle);
  if (s.ok()) s = Check(api->init(), "nvmlInit_v2");
  if (!s.ok()) {
    dlclose(handle);
    return s;
  }
  return std::shared_ptr<NvmlLibrary>(new NvmlLibrary(handle, std::move(api)));
}

NvmlLibrary::NvmlLibrary(void* handle, std::unique_ptr<Api> api)
    : handle_(handle), api_(std::move(api)) {}

NvmlLibrary::~NvmlLibrary() {
  api_->shutdown();
  dlclose(handle_);
}

Result<int> NvmlLibrary::DeviceCount() const {
  unsigned int n = 0;
  BW_RETURN_IF_ERROR(Check(api_->count(&n), "nvmlDeviceGetCount_v2"));
  return static_cast<int>(n);
}

Result<std::string> NvmlLibrary::DeviceName(int index) const {
  nvmlDevice_t dev = nullptr;
  BW_RETURN_IF_ERROR(Check(api_->handle_by_index(index, &dev), "nvmlDeviceGetHandleByIndex_v2"));
  char name[kNameLength] = {};
  BW_RETURN_IF_ERROR(Check(api_->name(dev, name, kNameLength), "nvmlDeviceGetName"));
  return std::string(name);
}

Result<std::string> NvmlLibrary::DeviceUuid(int index) const {
  nvmlDevice_t dev = nullptr;
  BW_RETURN_IF_ERROR(Check(api_->handle_by_index(index, &dev), "nvmlDeviceGetHandleByIndex_v2"));
  char uuid[kNameLength] = {};  // NVML_DEVICE_UUID_V2_BUFFER_SIZE is 96 too
  BW_RETURN_IF_ERROR(Check(api_->uuid(dev, uuid, kNameLength), "nvmlDeviceGetUUID"));
  return std::string(uuid);
}

Result<GpuReading> NvmlLibrary::Read(int index) const {
  nvmlDevice_t dev = nullptr;
  BW_RETURN_IF_ERROR(Check(api_->handle_by_index(index, &dev), "nvmlDeviceGetHandleByIndex_v2"));
  nvmlUtilization_t util{};
  BW_RETURN_IF_ERROR(Check(api_->utilization(dev, &util), "nvmlDeviceGetUtilizationRates"));
  nvmlMemory_t mem{};
  BW_RETURN_IF_ERROR(Check(api_->memory(dev, &mem), "nvmlDeviceGetMemoryInfo"));
  return GpuReading{std::min(1.0, util.gpu / 100.0), mem.used, mem.total};
}

Result<std::vector<Processor>> DiscoverGpus(const NvmlLibrary& nvml) {
  BW_ASSIGN_OR_RETURN(int n, nvml.DeviceCount());
  std::vector<Processor> out;
  for (int i = 0; i < n; ++i) {
    BW_ASSIGN_OR_RETURN(std::string name, nvml.DeviceName(i));
    BW_ASSIGN_OR_RETURN(GpuReading r, nvml.Read(i));
    Processor p;
    p.id = "gpu:" + std::to_string(i);
    p.kind = ProcessorKind::kGpu;
    p.gpu_index = i;
    p.memory_bytes = r.memory_total_bytes;
    p.model = name;
    p.signature = "gpu|" + name + "|mem_bytes=" + std::to_string(r.memory_total_bytes);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace batchwise
