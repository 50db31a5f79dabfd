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

namespace {

NamedTensor* FindOutput(InferResponse& r, const std::string& name) {
  for (NamedTensor& t : r.outputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The label of row j as a 64-bit value, from an INT32 or INT64 tensor.
int64_t LabelAt(const Tensor& labels, size_t j) {
  return labels.dtype() == DataType::kInt64 ? labels.as<int64_t>()[j] : labels.as<int32_t>()[j];
}

void SetLabel(Tensor& labels, size_t j, int64_t v) {
  if (labels.dtype() == DataType::kInt64) {
    labels.mutable_as<int64_t>()[j] = v;
  } else {
    labels.mutable_as<int32_t>()[j] = static_cast<int32_t>(v);
  }
}

std::string ClassName(const DetectionPostprocess& p, int64_t label) {
  if (label >= 0 && label < static_cast<int64_t>(p.class_names.size())) return p.class_names[label];
  return std::to_string(label);
}

struct DetectionTensors {
  const Tensor* boxes;
  const Tensor* scores;
  const Tensor* labels;
  const Tensor* count;
};

Result<DetectionTensors> FindDetections(const DetectionPostprocess& p, InferResponse& r) {
  DetectionTensors d{};
  const std::pair<const std::string*, const Tensor**> wanted[] = {
      {&p.boxes, &d.boxes}, {&p.scores, &d.scores}, {&p.labels, &d.labels},
      {&p.num_detections, &d.count}};
  for (const auto& [name, slot] : wanted) {
    NamedTensor* t = FindOutput(r, *name);
    if (t == nullptr) return Internal("response lacks output '" + *name + "'");
    *slot = &t->tensor;
  }
  const Shape& b = d.boxes->shape();
  const bool ok = b.size() == 3 && b[2] == 4 && d.scores->shape() == Shape{b[0], b[1]} &&
                  d.labels->shape() == Shape{b[0], b[1]} && d.count->shape() == Shape{b[0]};
  if (!ok) return Internal("detection outputs disagree on N and K");
  return d;
}

}  // namespace

Status ApplyDetection(const DetectionPostprocess& p, std::span<const ImagePlacement> placements,
                      bool add_label_names, InferResponse& r) {
  BW_ASSIGN_OR_RETURN(DetectionTensors in, FindDetections(p, r));
  const int64_t n = in.boxes->shape()[0], k = in.boxes->shape()[1];
  Tensor boxes = Tensor::Allocate(DataType::kFp32, in.boxes->shape());
  Tensor scores = Tensor::Allocate(DataType::kFp32, in.scores->shape());
  Tensor labels = Tensor::Allocate(in.labels->dtype(), in.labels->shape());
  Tensor count = Tensor::Allocate(DataType::kInt32, in.count->shape());
  std::vector<std::string> names(add_label_names ? static_cast<size_t>(n * k) : 0);
  const bool map = placements.size() == static_cast<size_t>(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t given = std::clamp<int64_t>(in.count->as<int32_t>()[i], 0, k);
    int64_t kept = 0;
    for (int64_t j = 0; j < given && kept < p.max_detections; ++j) {
      const size_t from = i * k + j, to = i * k + kept;
      if (!(in.scores->as<float>()[from] >= p.score_threshold)) continue;
      const float* b = in.boxes->as<float>().data() + 4 * from;
      float* out = boxes.mutable_as<float>().data() + 4 * to;
      const ImagePlacement& at = map ? placements[i] : ImagePlacement{};
      out[0] = map ? static_cast<float>(at.OriginalX(b[0])) : b[0];
      out[1] = map ? static_cast<float>(at.OriginalY(b[1])) : b[1];
      out[2] = map ? static_cast<float>(at.OriginalX(b[2])) : b[2];
      out[3] = map ? static_cast<float>(at.OriginalY(b[3])) : b[3];
      scores.mutable_as<float>()[to] = in.scores->as<float>()[from];
      SetLabel(labels, to, LabelAt(*in.labels, from));
      if (add_label_names) names[to] = ClassName(p, LabelAt(*in.labels, from));
      ++kept;
    }
    count.mutable_as<int32_t>()[i] = static_cast<int32_t>(kept);
  }
  FindOutput(r, p.boxes)->tensor = std::move(boxes);
  FindOutput(r, p.scores)->tensor = std::move(scores);
  FindOutput(r, p.labels)->tensor = std::move(labels);
  FindOutput(r, p.num_detections)->tensor = std::move(count);
  if (add_label_names) r.outputs.push_back({p.label_names_output, MakeBytesTensor({n, k}, names)});
  return Status::Ok();
}

InferCallback WithDetection(const DetectionPostprocess& p, std::vector<ImagePlacement> placements,
                            std::vector<std::string> returned, InferCallback done) {
  return [p, placements = std::move(placements), returned = std::move(returned),
          done = std::move(done)](Status s, InferResponse r) {
    const bool names = std::find(returned.begin(), returned.end(), p.label_names_output) !=
                       returned.end();
    if (s.ok()) s = ApplyDetection(p, placements, names, r);
    if (s.ok()) {
      std::vector<NamedTensor> kept;
      for (const std::string& name : returned) {
        if (NamedTensor* t = FindOutput(r, name)) kept.push_back(std::move(*t));
      }
      r.outputs = std::move(kept);
    }
    done(std::move(s), std::move(r));
  };
}

InferCallback WithClassification(const ClassificationPostprocess& p, size_t position,
                                 bool keep_source, InferCallback done) {
  return [p, position, keep_source, done = std::move(done)](Status s, InferResponse r) {
    if (s.ok()) s = AddClassification(p, position, keep_source, r);
    done(std::move(s), std::move(r));
  };
}

}  // namespace batchwise
