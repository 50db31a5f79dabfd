// Classification post-processing, the second half of a model's "inference script" (docs/design.md
// S10): an extra output of the top classes of each sample, in the format of Triton's
// classification extension ("score:index" strings, highest score first).
//
// Pure functions, safe from any thread. The wrapped callback runs where the request completes
// (the instance's batching thread, not the engine's pinned worker); ranking 1000 scores is a few
// microseconds per sample.
#pragma once

#include <cstddef>

#include "common/status.h"
#include "common/tensor.h"
#include "repository/model_config.h"
#include "serving/inference.h"

namespace batchwise {

// The `k` largest values of each row of FP32 [N, classes] `scores` as BYTES [N, k] strings
// "score:index" (score printed as %f, index from 0), highest first; ties go to the lower index.
Result<Tensor> ClassifyTopK(const Tensor& scores, int k);

// Wraps `done` so a successful response gets output `p.output` (ClassifyTopK of its output
// `p.source`, which it must hold) at `position` among its outputs; the source is then dropped
// unless `keep_source` (it was asked for by name too).
InferCallback WithClassification(const ClassificationPostprocess& p, size_t position,
                                 bool keep_source, InferCallback done);

}  // namespace batchwise
