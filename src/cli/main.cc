// batchwise: one binary, one subcommand per job.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/commands.h"

namespace {

// libgomp reads OMP_WAIT_POLICY once, at process start. Its default (spin before sleeping) makes
// the OpenMP teams of engine instances that share cores with other work collapse (docs/engines.md),
// so unless the user chose a policy, re-execute once with the passive one.
void EnsurePassiveOpenMpWait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with the default policy
}

}  // namespace

int main(int argc, char** argv) {
  EnsurePassiveOpenMpWait(argv);
  CLI::App app{"Batchwise: a model-inference server with workload-aware placement and adaptive "
               "batching"};
  app.require_subcommand(1);
  app.set_version_flag("--version", batchwise::cli::VersionText());
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();

  batchwise::cli::Command serve = batchwise::cli::AddServeCommand(app);
  batchwise::cli::Command profile = batchwise::cli::AddProfileCommand(app);
  batchwise::cli::Command bench = batchwise::cli::AddBenchCommand(app);
  batchwise::cli::Command simulate = batchwise::cli::AddSimulateCommand(app);
  batchwise::cli::Command models = batchwise::cli::AddModelsCommand(app);
  batchwise::cli::Command version = batchwise::cli::AddVersionCommand(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; any usage error (unknown flag, bad value, out of range) 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));

  if (app.got_subcommand("profile")) return profile();
  if (app.got_subcommand("models")) return models();
  if (app.got_subcommand("simulate")) return simulate();
  if (app.got_subcommand("serve")) return serve();
  if (app.got_subcommand("bench")) return bench();
  if (app.got_subcommand("version")) return version();
  return 2;
}
