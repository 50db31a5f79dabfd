// NvmlLibrary: NVIDIA's management library, loaded at run time with dlopen so the server builds and
// runs on machines without a driver. Only the handful of entry points the monitor needs.
//
// Thread-safe (NVML itself is); owns the dlopen handle and calls nvmlShutdown + dlclose when
// destroyed, so it must outlive every source that reads through it (hence shared_ptr users).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/processor.h"

namespace batchwise {

struct GpuReading {
  double utilization = 0;  // fraction of the last sample period a kernel ran, [0,1]
  uint64_t memory_used_bytes = 0;
  uint64_t memory_total_bytes = 0;
};

class NvmlLibrary {
 public:
  static constexpr const char* kDefaultSoname = "libnvidia-ml.so.1";

  // NotFound when the library cannot be opened (no NVIDIA driver): not an error for callers that
  // merely offer GPUs. Unavailable when it opens but a symbol is missing or nvmlInit_v2 fails.
  static Result<std::shared_ptr<NvmlLibrary>> Load(const std::string& soname = kDefaultSoname);
  ~NvmlLibrary();
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  Result<int> DeviceCount() const;
  Result<std::string> DeviceName(int index) const;
  // "GPU-xxxxxxxx-..." as nvidia-smi -L prints it.
  Result<std::string> DeviceUuid(int index) const;
  Result<GpuReading> Read(int index) const;

 private:
  struct Api;
  NvmlLibrary(void* handle, std::unique_ptr<Api> api);

  void* handle_;
  std::unique_ptr<Api> api_;
};

// One Processor per NVML device: id "gpu:<index>", signature "gpu|<name>|mem_bytes=N".
Result<std::vector<Processor>> DiscoverGpus(const NvmlLibrary& nvml);

}  // namespace batchwise
