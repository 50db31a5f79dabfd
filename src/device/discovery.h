// DiscoverProcessors: every processor this server may use — CPU processors by spec, NVIDIA GPUs
// when NVML loads, simulated processors from a declaration file.
//
// A free function over plain values; the returned NVML handle (if any) is shared with the
// monitor's GPU sources.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "device/nvml.h"
#include "device/processor.h"

namespace batchwise {

struct DiscoveryOptions {
  // CPU processors (grammar in docs/processors.md); empty offers no CPU processor.
  std::string cpu_spec = "cpu";
  // Offer NVIDIA GPUs when this library loads; empty skips GPUs.
  std::string nvml_library = NvmlLibrary::kDefaultSoname;
  // Simulated processor declaration (JSON); empty for none.
  std::string simulated_path;
};

struct DiscoveredProcessors {
  std::vector<Processor> processors;        // CPU ones first, then GPUs, then simulated
  std::shared_ptr<const NvmlLibrary> nvml;  // null when no GPU is offered
  std::string gpu_note;  // why no GPU is offered ("cannot load libnvidia-ml.so.1 ..."), or empty
};

// A bad CPU spec or declaration file is an error; a missing NVML library is not (no GPUs, with
// the reason in gpu_note).
Result<DiscoveredProcessors> DiscoverProcessors(const DiscoveryOptions& options);

}  // namespace batchwise
