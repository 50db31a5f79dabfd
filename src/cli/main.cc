// batchwise: one binary, one subcommand per job.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"

namespace {

int NotAvailable(const std::string& what) {
  std::fprintf(stderr, "batchwise %s: not available yet in this build\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Batchwise: a model-inference server with workload-aware placement and adaptive "
               "batching"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();

  auto* serve = app.add_subcommand("serve", "Serve the model repository over KServe v2");
  batchwise::cli::Command profile = batchwise::cli::AddProfileCommand(app);
  auto* bench = app.add_subcommand("bench", "Load generator and benchmarks");
  auto* simulate = app.add_subcommand("simulate", "Run placement and batching on simulated processors");
  auto* models = app.add_subcommand("models", "List and check the model repository");

  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));

  if (app.got_subcommand("profile")) return profile();
  for (auto* sub : {serve, bench, simulate, models}) {
    if (sub->parsed()) return NotAvailable(sub->get_name());
  }
  return 2;
}
