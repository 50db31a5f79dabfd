// `batchwise simulate`: places the repository's models on this machine's CPU partitions plus
// simulated processors (load-performance tables of hardware we do not have), loads them, and
// prints every placement decision with the numbers behind it (docs/design.md S2-S3).
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "device/discovery.h"
#include "device/monitor.h"
#include "profile/reference.h"
#include "repository/model_config.h"
#include "serving/engine_factory.h"
#include "serving/scheduler.h"

namespace batchwise::cli {
namespace {

struct SimulateArgs {
  std::string repository = "models";
  std::vector<std::string> models;  // empty: all
  std::string processors = "cpu:*";
  std::string simulated = "data/processors/simulated.json";
  std::string profiles = DefaultProfileDir();
  std::string reference_model = "resnet50";
  double expected_rate = 0;
  bool json = false;
};


void PrintDecision(const PlacementDecision& d) {
  std::printf("\n%s -> %s%s   (%s)\n", d.model.c_str(), d.chosen.empty() ? "nowhere" : d.chosen.c_str(),
              d.engine.empty() ? "" : (" with " + d.engine).c_str(), d.reason.c_str());
  std::printf("  %-10s %6s %6s %10s %9s  %s\n", "processor", "u", "m", "P (smp/s)", "workload",
              "excluded because");
  for (const auto& c : d.candidates) {
    std::printf("  %-10s %6.2f %6.2f %10.1f %9.3f  %s\n", c.processor_id.c_str(), c.utilization,
                c.memory_utilization, c.performance, c.workload,
                c.eligible() ? "-" : c.excluded.c_str());
  }
}

Result<std::vector<ModelConfig>> ModelsToLoad(const SimulateArgs& a) {
  BW_ASSIGN_OR_RETURN(auto folders, ListModelFolders(a.repository));
  std::vector<ModelConfig> out;
  for (const auto& f : folders) {
    BW_ASSIGN_OR_RETURN(ModelConfig c, LoadModelConfig(f));
    if (a.models.empty() || std::find(a.models.begin(), a.models.end(), c.name) != a.models.end()) {
      out.push_back(std::move(c));
    }
  }
  // Placement is greedy, one model at a time: the heaviest (largest weights) choose first, so the
  // fastest processor goes to the model that gains most from it.
  auto weight = [](const ModelConfig& c) {
    std::error_code ec;
    uintmax_t size = 0;
    for (const auto& f : c.engines) size = std::max(size, std::filesystem::file_size(f.path, ec));
    return ec ? uintmax_t{0} : size;
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const ModelConfig& x, const ModelConfig& y) { return weight(x) > weight(y); });
  return out;
}

Status Simulate(const SimulateArgs& a) {
  DiscoveryOptions d;
  d.cpu_spec = a.processors;
  d.simulated_path = a.simulated;
  BW_ASSIGN_OR_RETURN(DiscoveredProcessors found, DiscoverProcessors(d));
  SchedulerHardware hw;
  auto reference =
      LoadModelConfig((std::filesystem::path(a.repository) / a.reference_model).string());
  if (reference.ok()) hw.profiles = StoredProfiles(a.profiles, *reference, found.processors);
  BW_ASSIGN_OR_RETURN(hw.monitor, CreateMonitorFor({}, SystemClock(), found.processors, {}, found.nvml));
  hw.monitor->SampleOnce();
  hw.processors = found.processors;
  Scheduler::Options options;  // serve's placement: its instance limit and overcommit
  options.rebalance_period_ms = 0;
  options.views.unprofiled_max_instances = 4;
  std::string tables = (std::filesystem::temp_directory_path() / "batchwise-sim-tables").string();
  BW_ASSIGN_OR_RETURN(auto scheduler, Scheduler::Create(options, SystemClock(), std::move(hw),
                                                        DefaultEngineFactory(tables)));
  BW_ASSIGN_OR_RETURN(auto models, ModelsToLoad(a));
  for (const auto& m : models) {
    LoadOptions load;
    load.expected_rate_per_s = a.expected_rate;
    load.overcommit = true;
    Status s = scheduler->LoadModel(m, load);
    if (!s.ok()) spdlog::warn("{}: {}", m.name, s.ToString());
  }
  if (a.json) {
    std::printf("%s\n", nlohmann::json{{"placements", scheduler->PlacementsJson()},
                                       {"processors", scheduler->ProcessorsJson()}}
                            .dump(2)
                            .c_str());
    return Status::Ok();
  }
  std::printf("Placement on %zu processors (sim:* are simulated: their numbers replay tables of "
              "hardware this machine does not have)\n",
              scheduler->processors().size());
  for (const auto& dec : scheduler->Decisions()) PrintDecision(dec);
  return Status::Ok();
}

}  // namespace

Command AddSimulateCommand(CLI::App& app) {
  auto args = std::make_shared<SimulateArgs>();
  auto* cmd = app.add_subcommand(
      "simulate", "Place the repository's models on CPU partitions and simulated processors and "
                  "show every decision with its numbers");
  cmd->add_option("--model-repository", args->repository, "Model repository")->capture_default_str();
  cmd->add_option("-m,--models", args->models, "Models to load (default: all)")->delimiter(',');
  cmd->add_option("-p,--processors", args->processors, "CPU processors (docs/processors.md)")
      ->capture_default_str();
  cmd->add_option("--simulated", args->simulated, "Simulated processor declarations")
      ->capture_default_str();
  cmd->add_option("--profiles", args->profiles, "Stored profiles (batchwise profile --out)")
      ->capture_default_str();
  cmd->add_option("--expected-rate", args->expected_rate,
                  "Reference-model samples/s each model is expected to bring (reserved on placement)")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print placements and processors as JSON");
  return [args] {
    Status s = Simulate(*args);
    if (!s.ok()) std::fprintf(stderr, "batchwise simulate: %s\n", s.ToString().c_str());
    return s.ok() ? 0 : 1;
  };
}

}  // namespace batchwise::cli
