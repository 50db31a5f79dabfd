#include "serving/model_stats.h"

#include <nlohmann/json.hpp>

namespace batchwise {

nlohmann::json DurationStat::ToJson() const { return {{"count", count()}, {"ns", ns()}}; }

ModelStats::ModelStats(int max_batch_size) {
  by_size_.resize(static_cast<size_t>(std::max(max_batch_size, 1)) + 1);
  for (auto& s : by_size_) s = std::make_unique<BatchSizeStats>();
}

void ModelStats::RecordBatch(int batch_size, Duration input, Duration infer, Duration output) {
  execution_count_.fetch_add(1, std::memory_order_relaxed);
  if (batch_size < 1 || static_cast<size_t>(batch_size) >= by_size_.size()) return;
  BatchSizeStats& s = *by_size_[batch_size];
  s.compute_input.Add(input);
  s.compute_infer.Add(infer);
  s.compute_output.Add(output);
}

void ModelStats::RecordInferences(int64_t samples, int64_t now_ms) {
  inference_count_.fetch_add(samples, std::memory_order_relaxed);
  last_inference_ms_.store(now_ms, std::memory_order_relaxed);
}

void ModelStats::RecordFailure(Duration since_accepted, bool expired) {
  fail.Add(since_accepted);
  (expired ? rejected_ : backend_failures_).fetch_add(1, std::memory_order_relaxed);
}

nlohmann::json ModelStats::ToJson(const std::string& name, int64_t version) const {
  nlohmann::json batches = nlohmann::json::array();
  for (size_t b = 1; b < by_size_.size(); ++b) {
    const BatchSizeStats& s = *by_size_[b];
    if (s.compute_infer.count() == 0) continue;
    batches.push_back({{"batch_size", b},
                       {"compute_input", s.compute_input.ToJson()},
                       {"compute_infer", s.compute_infer.ToJson()},
                       {"compute_output", s.compute_output.ToJson()}});
  }
  const nlohmann::json failures = {{"REJECTED", rejected()},
                                   {"BACKEND", backend_failures_.load(std::memory_order_relaxed)}};
  return {{"name", name},
          {"version", std::to_string(version)},
          {"last_inference", last_inference_ms_.load(std::memory_order_relaxed)},
          {"inference_count", inference_count()},
          {"execution_count", execution_count()},
          {"inference_stats",
           {{"success", success.ToJson()},
            {"fail", fail.ToJson()},
            {"queue", queue.ToJson()},
            {"compute_input", compute_input.ToJson()},
            {"compute_infer", compute_infer.ToJson()},
            {"compute_output", compute_output.ToJson()}}},
          {"batch_stats", batches},
          {"failure_reasons", failures}};
}

}  // namespace batchwise
