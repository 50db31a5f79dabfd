#include "common/client_tensor.h"

#include <cmath>
#include <utility>

namespace batchwise {
namespace {

template <typename T>
bool InRange(auto v) {
  return std::in_range<T>(v);
}

template <typename V>
bool Fits(DataType dtype, V v) {
  switch (dtype) {
    case DataType::kBool: return v == 0 || v == 1;
    case DataType::kUint8: return InRange<uint8_t>(v);
    case DataType::kUint16: return InRange<uint16_t>(v);
    case DataType::kUint32: return InRange<uint32_t>(v);
    case DataType::kUint64: return InRange<uint64_t>(v);
    case DataType::kInt8: return InRange<int8_t>(v);
    case DataType::kInt16: return InRange<int16_t>(v);
    case DataType::kInt32: return InRange<int32_t>(v);
    case DataType::kInt64: return InRange<int64_t>(v);
    case DataType::kFp16:
    case DataType::kFp32:
    case DataType::kFp64: return FloatFits(dtype, static_cast<double>(v));
    case DataType::kBytes: return false;
  }
  return false;
}

}  // namespace

Result<int64_t> CheckClientShape(const Shape& shape, const std::string& what) {
  if (shape.size() > kMaxClientRank) {
    return InvalidArgument(what + ": shape has more than " + std::to_string(kMaxClientRank) +
                           " dimensions (" + std::to_string(shape.size()) + ")");
  }
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return InvalidArgument(what + ": shape " + ShapeToString(shape) +
                             " has a negative dimension");
    }
    // Every partial product stays <= kMaxClientElements (2^40), so this never wraps; a zero
    // dimension makes the count 0 whatever follows, but the later dimensions are still capped.
    if (d > kMaxClientElements || (count > 0 && d > kMaxClientElements / count)) {
      return InvalidArgument(what + ": shape " + ShapeToString(shape) +
                             " has too many elements (the limit is " +
                             std::to_string(kMaxClientElements) + ")");
    }
    count *= d;
  }
  return count;
}

Status CheckClientTensor(const Tensor& tensor, const std::string& what) {
  BW_RETURN_IF_ERROR(CheckClientShape(tensor.shape(), what).status());
  Status valid = tensor.Validate();
  if (!valid.ok()) return InvalidArgument(what + ": " + valid.message());
  return Status::Ok();
}

bool IntegerFits(DataType dtype, int64_t v) { return Fits(dtype, v); }
bool UnsignedFits(DataType dtype, uint64_t v) { return Fits(dtype, v); }

bool FloatFits(DataType dtype, double v) {
  if (!std::isfinite(v)) return false;
  switch (dtype) {
    // Below the midpoint between the largest finite value and the next power of two, which is
    // what rounds to infinity: 65504 (FP16) or FLT_MAX as printed with 8 digits still fit.
    case DataType::kFp16: return std::fabs(v) < 65520.0;
    case DataType::kFp32: return std::fabs(v) < 0x1.ffffffp127;
    case DataType::kFp64: return true;
    default: return false;
  }
}

}  // namespace batchwise
