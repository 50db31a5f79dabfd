// Classification post-processing, the second half of a model's "inference script" (docs/design.md
// S10): an extra output of the top classes of each sample, in the format of Triton's
// classification extension ("score:index" strings, highest score first).
//
// Pure functions, safe from any thread. The wrapped callback runs where the request completes
// (the instance's batching thread, not the engine's pinned worker); ranking 1000 scores is a few
// microseconds per sample.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "repository/model_config.h"
#include "serving/inference.h"
#include "serving/preprocess.h"

namespace batchwise {

// The `k` largest values of each row of FP32 [N, classes] `scores` as BYTES [N, k] strings
// "score:index" (score printed as %f, index from 0), highest first; ties go to the lower index.
Result<Tensor> ClassifyTopK(const Tensor& scores, int k);

// Wraps `done` so a successful response gets output `p.output` (ClassifyTopK of its output
// `p.source`, which it must hold) at `position` among its outputs; the source is then dropped
// unless `keep_source` (it was asked for by name too).
InferCallback WithClassification(const ClassificationPostprocess& p, size_t position,
                                 bool keep_source, InferCallback done);

// Detection post-processing (docs/detection.md) of one response holding all four outputs of `p`
// for its N images: keeps, per image, the first `max_detections` of its num_detections rows whose
// score is >= score_threshold (in order), zero-fills the rest and updates num_detections; maps the
// boxes of image i back to its original through placements[i] when `placements` has N entries
// (empty: boxes stay in the model input's pixels). With `add_label_names`, adds BYTES [N,K]
// output p.label_names_output (class name per kept row, the label number where the list has none,
// "" for padding).
Status ApplyDetection(const DetectionPostprocess& p, std::span<const ImagePlacement> placements,
                      bool add_label_names, InferResponse& r);

// Wraps `done` so a successful response is post-processed by ApplyDetection, then keeps only the
// outputs named in `returned`, in that order (p.label_names_output among them adds that output).
InferCallback WithDetection(const DetectionPostprocess& p, std::vector<ImagePlacement> placements,
                            std::vector<std::string> returned, InferCallback done);

}  // namespace batchwise
