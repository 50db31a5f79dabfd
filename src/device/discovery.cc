#include "device/discovery.h"

#include "device/simulated.h"

namespace batchwise {
namespace {

Status AddCpus(const std::string& spec, std::vector<Processor>& out) {
  if (spec.empty()) return Status::Ok();
  BW_ASSIGN_OR_RETURN(CpuTopology topology, DiscoverCpuTopology());
  BW_ASSIGN_OR_RETURN(auto cpus, MakeCpuProcessors(topology, spec));
  out.insert(out.end(), cpus.begin(), cpus.end());
  return Status::Ok();
}

void AddGpus(const std::string& library, DiscoveredProcessors& d) {
  if (library.empty()) {
    d.gpu_note = "GPU discovery disabled";
    return;
  }
  auto nvml = NvmlLibrary::Load(library);
  if (!nvml.ok()) {
    d.gpu_note = nvml.status().message();
    return;
  }
  auto gpus = DiscoverGpus(**nvml);
  if (!gpus.ok()) {
    d.gpu_note = gpus.status().message();
    return;
  }
  if (gpus->empty()) d.gpu_note = "NVML reports no devices";
  d.processors.insert(d.processors.end(), gpus->begin(), gpus->end());
  d.nvml = *nvml;
}

}  // namespace

Result<DiscoveredProcessors> DiscoverProcessors(const DiscoveryOptions& options) {
  DiscoveredProcessors d;
  BW_RETURN_IF_ERROR(AddCpus(options.cpu_spec, d.processors));
  AddGpus(options.nvml_library, d);
  if (!options.simulated_path.empty()) {
    BW_ASSIGN_OR_RETURN(auto sims, LoadSimulatedProcessors(options.simulated_path));
    d.processors.insert(d.processors.end(), sims.begin(), sims.end());
  }
  return d;
}

}  // namespace batchwise
