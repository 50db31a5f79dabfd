// The batchwise subcommands: each registers its flags on the CLI11 app and runs when parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace batchwise::cli {

// Adds a subcommand to `app`; the returned function runs it (exit status) once it was parsed.
using Command = std::function<int()>;

Command AddProfileCommand(CLI::App& app);
Command AddModelsCommand(CLI::App& app);
Command AddSimulateCommand(CLI::App& app);
Command AddServeCommand(CLI::App& app);
Command AddBenchCommand(CLI::App& app);
Command AddVersionCommand(CLI::App& app);

// "batchwise 0.1.0", the build type, the engines and whether CUDA is compiled in (one per line).
std::string VersionText();

}  // namespace batchwise::cli
