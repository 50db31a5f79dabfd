// The batchwise subcommands: each registers its flags on the CLI11 app and runs when parsed.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace batchwise::cli {

// Adds a subcommand to `app`; the returned function runs it (exit status) once it was parsed.
using Command = std::function<int()>;

Command AddProfileCommand(CLI::App& app);
Command AddModelsCommand(CLI::App& app);
Command AddSimulateCommand(CLI::App& app);
Command AddServeCommand(CLI::App& app);
Command AddBenchCommand(CLI::App& app);

}  // namespace batchwise::cli
