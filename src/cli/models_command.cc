// `batchwise models`: lists the model repository and, with --check, runs every model's reference
// inputs through every engine it has and compares with PyTorch's reference outputs.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <spdlog/fmt/fmt.h>

#include "backend/engine.h"
#include "cli/commands.h"
#include "repository/model_config.h"
#include "repository/reference.h"

namespace batchwise::cli {
namespace {

struct ModelsArgs {
  std::string repository = "models";
  bool check = false;
};

std::string Specs(const std::vector<TensorSpec>& specs) {
  std::string s;
  for (const auto& t : specs) {
    s += fmt::format("{}{} {}{}", s.empty() ? "" : ", ", t.name, DataTypeName(t.dtype),
                     ShapeToString(t.shape));
  }
  return s;
}

std::string Engines(const ModelConfig& m) {
  std::string s;
  for (const auto& e : m.engines) s += (s.empty() ? "" : ",") + std::string(EngineKindName(e.engine));
  return s;
}

// "ok  max diff 3.6e-05 <= 2.0e-03" or the reason it failed.
std::string CheckEngine(const ModelConfig& m, const ModelEngineFile& file,
                        const ReferenceTensors& ref, bool& passed) {
  EngineOptions o;
  o.model_path = file.path;
  o.optimize_for_inference = file.optimize_for_inference;
  o.inputs = m.inputs;
  o.outputs = m.outputs;
  auto engine = CreateEngine(file.engine, o);
  passed = false;
  if (!engine.ok()) return "FAIL " + engine.status().ToString();
  auto out = (*engine)->Run(ref.inputs);
  if (!out.ok()) return "FAIL " + out.status().ToString();
  double worst = 0, tol = 0;
  for (size_t i = 0; i < out->size() && i < ref.outputs.size(); ++i) {
    auto c = CompareToReference((*out)[i], ref.outputs[i]);
    if (!c.ok()) return "FAIL " + c.status().ToString();
    if (i == 0 || c->max_abs_diff > worst) {  // the worst output and its own tolerance
      worst = c->max_abs_diff;
      tol = c->tolerance;
    }
    if (!c->ok()) return fmt::format("FAIL max diff {:.2g} > {:.2g}", c->max_abs_diff, c->tolerance);
  }
  passed = true;
  return fmt::format("ok   max diff {:.2g} <= {:.2g}", worst, tol);
}

int RunModels(const ModelsArgs& a) {
  auto folders = ListModelFolders(a.repository);
  if (!folders.ok()) {
    std::fprintf(stderr, "%s\n", folders.status().ToString().c_str());
    return 1;
  }
  int failures = 0;
  std::printf("%-16s %-22s %5s  %-24s %s\n", "model", "kind", "batch", "engines", "inputs -> outputs");
  for (const auto& folder : *folders) {
    auto m = LoadModelConfig(folder);
    if (!m.ok()) {
      std::printf("%-16s INVALID: %s\n", std::filesystem::path(folder).filename().c_str(),
                  m.status().ToString().c_str());
      ++failures;
      continue;
    }
    std::printf("%-16s %-22s %5d  %-24s %s -> %s\n", m->name.c_str(), m->kind.c_str(),
                m->max_batch_size, Engines(*m).c_str(), Specs(m->inputs).c_str(),
                Specs(m->outputs).c_str());
    if (!a.check) continue;
    auto ref = LoadReferenceTensors(folder);
    if (!ref.ok()) {
      std::printf("    no reference tensors: %s\n", ref.status().ToString().c_str());
      continue;
    }
    for (const auto& file : m->engines) {
      bool passed = false;
      std::string result = CheckEngine(*m, file, *ref, passed);
      failures += !passed;
      std::printf("    %-12s %s\n", std::string(EngineKindName(file.engine)).c_str(), result.c_str());
    }
  }
  return failures ? 1 : 0;
}

}  // namespace

Command AddModelsCommand(CLI::App& app) {
  auto args = std::make_shared<ModelsArgs>();
  auto* cmd = app.add_subcommand("models", "List the model repository; --check runs each model's "
                                           "reference inputs through every engine");
  cmd->add_option("--model-repository", args->repository, "Model repository folder")
      ->capture_default_str();
  cmd->add_flag("--check", args->check, "Compare every engine's outputs with PyTorch's reference");
  return [args] { return RunModels(*args); };
}

}  // namespace batchwise::cli
