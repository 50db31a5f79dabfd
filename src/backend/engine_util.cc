#include "backend/engine_util.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace batchwise {

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  // The main thread's mask (its tid is the pid), not the caller's: a thread pinned to a few
  // cores (an engine's worker, the frontend's threads) still sees every core the process may use.
  if (sched_getaffinity(getpid(), sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

Result<ResolvedTarget> ResolveCpuTarget(const ExecutionTarget& target) {
  std::vector<int> allowed = AllowedCpus();
  ResolvedTarget r;
  r.cores = target.cpu_cores.empty() ? allowed : target.cpu_cores;
  std::sort(r.cores.begin(), r.cores.end());
  r.cores.erase(std::unique(r.cores.begin(), r.cores.end()), r.cores.end());
  for (int c : r.cores) {
    if (!std::binary_search(allowed.begin(), allowed.end(), c)) {
      return InvalidArgument("cpu core " + std::to_string(c) + " is not available to this process " +
                             "(allowed: " + CoresToString(allowed) + ")");
    }
  }
  if (target.num_threads < 0) return InvalidArgument("num_threads must be >= 0");
  r.num_threads = target.num_threads == 0 ? static_cast<int>(r.cores.size()) : target.num_threads;
  if (r.cores.empty() || r.num_threads < 1) return InvalidArgument("no cpu core to run on");
  return r;
}

std::string CoresToString(const std::vector<int>& cores) {
  std::string s = "{";
  for (size_t i = 0; i < cores.size(); ++i) s += (i ? "," : "") + std::to_string(cores[i]);
  return s + "}";
}

Status CheckSpecs(const std::vector<TensorSpec>& specs, std::string_view what) {
  for (const auto& s : specs) {
    std::string where = std::string(what) + " '" + s.name + "'";
    if (s.name.empty()) return InvalidArgument(std::string(what) + " without a name");
    if (s.shape.empty() || s.shape[0] != -1) {
      return InvalidArgument(where + " must have -1 as its first (batch) dimension, got " +
                             ShapeToString(s.shape));
    }
    for (size_t i = 1; i < s.shape.size(); ++i) {
      if (s.shape[i] <= 0) return InvalidArgument(where + " has a non-positive dimension");
    }
  }
  return Status::Ok();
}

namespace {

Status CheckOneInput(const TensorSpec& spec, const Tensor& t, int64_t batch) {
  std::string where = "input '" + spec.name + "'";
  if (t.dtype() != spec.dtype) {
    return InvalidArgument(where + " has datatype " + std::string(DataTypeName(t.dtype())) +
                           ", expected " + std::string(DataTypeName(spec.dtype)));
  }
  if (t.shape() != BatchShape(spec, batch)) {
    return InvalidArgument(where + " has shape " + ShapeToString(t.shape()) + ", expected " +
                           ShapeToString(BatchShape(spec, batch)));
  }
  return t.Validate();
}

}  // namespace

Result<int64_t> CheckBatch(const std::vector<TensorSpec>& specs, std::span<const Tensor> inputs) {
  if (inputs.size() != specs.size()) {
    return InvalidArgument("expected " + std::to_string(specs.size()) + " input tensor(s), got " +
                           std::to_string(inputs.size()));
  }
  if (inputs.empty() || inputs[0].shape().empty() || inputs[0].shape()[0] < 1) {
    return InvalidArgument("a batch needs a first dimension >= 1");
  }
  int64_t batch = inputs[0].shape()[0];
  for (size_t i = 0; i < specs.size(); ++i) BW_RETURN_IF_ERROR(CheckOneInput(specs[i], inputs[i], batch));
  return batch;
}

Shape BatchShape(const TensorSpec& spec, int64_t batch) {
  Shape s = spec.shape;
  if (!s.empty()) s[0] = batch;
  return s;
}

std::string ShortPath(const std::string& path) {
  std::filesystem::path p(path);
  std::string parent = p.parent_path().filename().string();
  return parent.empty() ? p.filename().string() : parent + "/" + p.filename().string();
}

Status CheckModelFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound("model file not found: " + path);
  }
  if (!std::ifstream(path, std::ios::binary)) return NotFound("model file not readable: " + path);
  return Status::Ok();
}

}  // namespace batchwise
