// Reference tensors of a generated model (tools/gen_models.py): inputs and PyTorch's outputs for
// them, so any engine's results can be checked against PyTorch itself.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"

namespace batchwise {

struct ReferenceTensors {
  std::vector<Tensor> inputs;
  std::vector<Tensor> outputs;
  std::string computed_by;  // "torch 1.13.0a0 (eval, float32, CPU)"
};

// Reads <folder>/reference.json and the raw tensors it names. NOT_FOUND when absent.
Result<ReferenceTensors> LoadReferenceTensors(const std::string& folder);

struct ReferenceComparison {
  double max_abs_diff = 0;
  double tolerance = 0;
  bool ok() const { return max_abs_diff <= tolerance; }
};

// FP32 only. Tolerance: max |out - ref| <= relative * max(1, max |ref|). Engines compute in float32
// with different kernels and summation orders, which moves results by ~1e-6..1e-4 of their scale;
// a real error (wrong layout, wrong weights) moves them by the order of the scale itself.
Result<ReferenceComparison> CompareToReference(const Tensor& out, const Tensor& ref,
                                               double relative = 1e-3);

}  // namespace batchwise
