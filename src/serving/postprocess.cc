#include "serving/postprocess.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "common/bytes_tensor.h"

namespace batchwise {
namespace {

std::string Label(float score, int index) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%f:%d", score, index);
  return buf;
}

// Labels of the k best classes of one row, best first.
void RankRow(std::span<const float> row, int k, std::vector<int>& order,
             std::vector<std::string>& out) {
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  for (int i = 0; i < k; ++i) out.push_back(Label(row[order[i]], order[i]));
}

// Replaces the source output of `r` by its classification, or adds it beside.
Status AddClassification(const ClassificationPostprocess& p, size_t position, bool keep_source,
                         InferResponse& r) {
  auto source = std::find_if(r.outputs.begin(), r.outputs.end(),
                             [&](const NamedTensor& t) { return t.name == p.source; });
  if (source == r.outputs.end()) return Internal("response lacks output '" + p.source + "'");
  BW_ASSIGN_OR_RETURN(Tensor top, ClassifyTopK(source->tensor, p.top_k));
  if (!keep_source) r.outputs.erase(source);
  position = std::min(position, r.outputs.size());
  r.outputs.insert(r.outputs.begin() + static_cast<std::ptrdiff_t>(position),
                   NamedTensor{p.output, std::move(top)});
  return Status::Ok();
}

}  // namespace

Result<Tensor> ClassifyTopK(const Tensor& scores, int k) {
  const Shape& s = scores.shape();
  if (scores.dtype() != DataType::kFp32 || s.size() != 2) {
    return InvalidArgument("classification needs FP32 [N,classes] scores, got " +
                           std::string(DataTypeName(scores.dtype())) + " " + ShapeToString(s));
  }
  if (k < 1 || k > s[1]) return InvalidArgument("top_k " + std::to_string(k) + " out of range");
  BW_RETURN_IF_ERROR(scores.Validate());
  std::span<const float> all = scores.as<float>();
  std::vector<int> order(static_cast<size_t>(s[1]));
  std::vector<std::string> labels;
  labels.reserve(static_cast<size_t>(s[0] * k));
  for (int64_t i = 0; i < s[0]; ++i) RankRow(all.subspan(i * s[1], s[1]), k, order, labels);
  return MakeBytesTensor({s[0], k}, labels);
}

InferCallback WithClassification(const ClassificationPostprocess& p, size_t position,
                                 bool keep_source, InferCallback done) {
  return [p, position, keep_source, done = std::move(done)](Status s, InferResponse r) {
    if (s.ok()) s = AddClassification(p, position, keep_source, r);
    done(std::move(s), std::move(r));
  };
}

}  // namespace batchwise
