// The one validation of a tensor that arrives from a client, whatever the protocol: the HTTP/JSON
// and binary decoder (frontend/kserve_codec) and the gRPC decoder (frontend/grpc_codec) both call
// it, so a limit holds for every request or for none.
//
// Limits: rank <= kMaxClientRank, every dimension >= 0, at most kMaxClientElements elements (the
// product of the dimensions, overflow-checked: a shape whose product wraps int64 is refused, never
// wrapped into a small number), the byte size the datatype needs, and values inside the
// datatype's range (an INT8 of 300 or an FP32 of 1e39 is refused, not narrowed to garbage or inf).
//
// Pure functions: safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "common/tensor.h"

namespace batchwise {

inline constexpr size_t kMaxClientRank = 16;
inline constexpr int64_t kMaxClientElements = int64_t{1} << 40;

// INVALID_ARGUMENT (the message names `what`) unless `shape` is within the limits above; on OK its
// element count.
Result<int64_t> CheckClientShape(const Shape& shape, const std::string& what);

// The shape's checks, then the tensor's own (its byte size, BYTES length prefixes): what every
// decoded input must pass before it is handed to the scheduler.
Status CheckClientTensor(const Tensor& tensor, const std::string& what);

// Whether a value a client sent fits `dtype` exactly (integers) or in range (floats: any finite
// double that rounds to a finite value of the type: FP32 up to FLT_MAX, FP16 up to 65504). BOOL
// takes 0 and 1; BYTES none.
bool IntegerFits(DataType dtype, int64_t v);
bool UnsignedFits(DataType dtype, uint64_t v);
bool FloatFits(DataType dtype, double v);

}  // namespace batchwise
