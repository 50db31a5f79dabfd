// Reading and writing the elements of BYTES tensors (each element a 4-byte little-endian length
// followed by its bytes, as common/tensor.h describes). Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"

namespace batchwise {

// A BYTES tensor of `shape` holding `elements` (their count must equal the shape's).
Tensor MakeBytesTensor(Shape shape, const std::vector<std::string>& elements);

// Views of every element of a BYTES tensor, in row-major order; INVALID_ARGUMENT when `t` is not
// BYTES or its length prefixes do not fit its shape and size. The views borrow `t`'s storage.
Result<std::vector<std::string_view>> BytesElements(const Tensor& t);

}  // namespace batchwise
