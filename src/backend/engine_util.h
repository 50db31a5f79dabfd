// Helpers every engine shares: target resolution (cores, threads), spec and batch checks, model
// file checks and the one place where exceptions from engine libraries become a Status.
// Free functions over values: thread-safe.
#pragma once

#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/engine.h"

namespace batchwise {

// The CPUs this process may run on (sched_getaffinity), ascending.
std::vector<int> AllowedCpus();

// Cores and thread count a CPU-side instance actually uses: empty cpu_cores means every allowed
// CPU; num_threads 0 means one per core. Unknown cores and negative counts are INVALID_ARGUMENT.
struct ResolvedTarget {
  std::vector<int> cores;
  int num_threads = 1;
};
Result<ResolvedTarget> ResolveCpuTarget(const ExecutionTarget& target);

// "{0,1}".
std::string CoresToString(const std::vector<int>& cores);

// Specs must have a name, a rank >= 1, -1 as the batch dimension and positive other dims.
Status CheckSpecs(const std::vector<TensorSpec>& specs, std::string_view what);

// Checks one batch against the declared inputs and returns its batch size.
Result<int64_t> CheckBatch(const std::vector<TensorSpec>& specs, std::span<const Tensor> inputs);

// Concrete shape of a spec for a batch: the -1 batch dim replaced by `batch`.
Shape BatchShape(const TensorSpec& spec, int64_t batch);

// "resnet18/model.onnx": the file and its folder, for one-line descriptions.
std::string ShortPath(const std::string& path);

// NOT_FOUND naming the file unless `path` is a readable regular file.
Status CheckModelFile(const std::string& path);

// The boundary: runs `fn` (returning Status), turning any escaping exception into `code` with
// "<context>: <what>". Engines catch their library's own types first for better messages.
template <typename F>
Status CatchAll(StatusCode code, const std::string& context, F&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status(code, context + ": " + e.what());
  } catch (...) {
    return Status(code, context + ": unknown exception");
  }
}

}  // namespace batchwise
