#include "common/tensor.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>

namespace batchwise {
namespace {

struct TypeInfo {
  DataType type;
  std::string_view name;
  size_t size;
};

constexpr std::array<TypeInfo, 13> kTypes = {{
    {DataType::kBool, "BOOL", 1},    {DataType::kUint8, "UINT8", 1},
    {DataType::kUint16, "UINT16", 2}, {DataType::kUint32, "UINT32", 4},
    {DataType::kUint64, "UINT64", 8}, {DataType::kInt8, "INT8", 1},
    {DataType::kInt16, "INT16", 2},  {DataType::kInt32, "INT32", 4},
    {DataType::kInt64, "INT64", 8},  {DataType::kFp16, "FP16", 2},
    {DataType::kFp32, "FP32", 4},    {DataType::kFp64, "FP64", 8},
    {DataType::kBytes, "BYTES", 0},
}};

const TypeInfo& Info(DataType t) { return kTypes[static_cast<size_t>(t)]; }

uint32_t ReadLength(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // little-endian hosts only (x86-64, aarch64)
  return v;
}

// Byte offsets of each element's start within a BYTES buffer, plus the end; error if malformed.
Result<std::vector<size_t>> BytesOffsets(std::span<const std::byte> buf, int64_t expected) {
  std::vector<size_t> offsets;
  // Every element takes at least its 4-byte prefix: never reserve more than the buffer can hold
  // (the shape comes from a client and may claim 2^40 elements).
  const size_t most = buf.size() / 4 + 1;
  offsets.reserve(expected >= 0 ? std::min(static_cast<size_t>(expected) + 1, most) : 16);
  size_t pos = 0;
  while (pos < buf.size()) {
    if (buf.size() - pos < 4) return InvalidArgument("BYTES element length prefix is truncated");
    offsets.push_back(pos);
    uint32_t len = ReadLength(buf.data() + pos);
    if (len > buf.size() - pos - 4) {
      return InvalidArgument("BYTES element of " + std::to_string(len) +
                             " bytes runs past the end of the tensor data");
    }
    pos += 4 + len;
  }
  offsets.push_back(pos);
  if (expected >= 0 && static_cast<int64_t>(offsets.size() - 1) != expected) {
    return InvalidArgument("BYTES tensor holds " + std::to_string(offsets.size() - 1) +
                           " elements, shape says " + std::to_string(expected));
  }
  return offsets;
}

Shape WithFirstDim(const Shape& s, int64_t first) {
  Shape out = s;
  out[0] = first;
  return out;
}

}  // namespace

std::string_view DataTypeName(DataType t) { return Info(t).name; }

Result<DataType> ParseDataType(std::string_view name) {
  for (const auto& info : kTypes) {
    if (info.name == name) return info.type;
  }
  return InvalidArgument("unknown datatype '" + std::string(name) + "'");
}

size_t DataTypeSize(DataType t) { return Info(t).size; }

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t ElementCount(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

Tensor Tensor::Allocate(DataType dtype, Shape shape, size_t byte_size) {
  if (dtype != DataType::kBytes) {
    byte_size = static_cast<size_t>(std::max<int64_t>(0, ElementCount(shape))) * DataTypeSize(dtype);
  }
  return AllocateBytes(dtype, std::move(shape), byte_size);
}

Tensor Tensor::AllocateBytes(DataType dtype, Shape shape, size_t byte_size) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.size_ = byte_size;
  auto storage = std::shared_ptr<std::byte[]>(new std::byte[std::max<size_t>(byte_size, 1)]());
  t.data_ = storage.get();
  t.hold_ = std::move(storage);
  t.owned_ = true;
  return t;
}

Tensor Tensor::CopyOf(DataType dtype, Shape shape, std::span<const std::byte> data) {
  Tensor t = AllocateBytes(dtype, std::move(shape), data.size());
  if (!data.empty()) std::memcpy(t.mutable_data(), data.data(), data.size());
  return t;
}

Tensor Tensor::Borrow(DataType dtype, Shape shape, std::span<const std::byte> data,
                      std::shared_ptr<const void> keep_alive) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data.data();
  t.size_ = data.size();
  t.hold_ = std::move(keep_alive);
  return t;
}

Tensor Tensor::FromFloats(Shape shape, std::span<const float> values) {
  return CopyOf(DataType::kFp32, std::move(shape), std::as_bytes(values));
}

Status Tensor::Validate() const {
  int64_t n = element_count();
  if (n < 0) {
    return InvalidArgument("shape " + ShapeToString(shape_) +
                           " has a negative dimension or more elements than int64 holds");
  }
  if (dtype_ == DataType::kBytes) return BytesOffsets(bytes(), n).status();
  size_t expected = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(n), DataTypeSize(dtype_), &expected) ||
      expected != size_) {
    return InvalidArgument(std::string(DataTypeName(dtype_)) + " tensor of shape " +
                           ShapeToString(shape_) + " needs " + std::to_string(expected) +
                           " bytes, got " + std::to_string(size_));
  }
  return Status::Ok();
}

Result<Tensor> Tensor::Reshaped(Shape shape) const {
  if (ElementCount(shape) != element_count()) {
    return InvalidArgument("cannot reshape " + ShapeToString(shape_) + " to " +
                           ShapeToString(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Result<Tensor> ConcatBatch(std::span<const Tensor> parts) {
  if (parts.empty()) return InvalidArgument("cannot batch zero tensors");
  const Tensor& first = parts[0];
  if (first.shape().empty()) return InvalidArgument("cannot batch scalars: no batch dimension");
  int64_t rows = 0;
  size_t bytes = 0;
  for (const Tensor& p : parts) {
    if (p.dtype() != first.dtype()) {
      return InvalidArgument("cannot batch " + std::string(DataTypeName(p.dtype())) + " with " +
                             std::string(DataTypeName(first.dtype())));
    }
    if (p.shape().size() != first.shape().size() ||
        !std::equal(p.shape().begin() + 1, p.shape().end(), first.shape().begin() + 1)) {
      return InvalidArgument("cannot batch shape " + ShapeToString(p.shape()) + " with " +
                             ShapeToString(first.shape()));
    }
    rows += p.shape()[0];
    bytes += p.byte_size();
  }
  if (parts.size() == 1) return first;
  Tensor out = Tensor::Allocate(first.dtype(), WithFirstDim(first.shape(), rows), bytes);
  std::byte* dst = out.mutable_data();
  for (const Tensor& p : parts) {
    if (p.byte_size()) std::memcpy(dst, p.data(), p.byte_size());
    dst += p.byte_size();
  }
  return out;
}

Result<std::vector<Tensor>> SplitBatch(const Tensor& batch, std::span<const int64_t> sizes) {
  if (batch.shape().empty()) return InvalidArgument("cannot split a scalar");
  int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  if (total != batch.shape()[0]) {
    return InvalidArgument("split sizes sum to " + std::to_string(total) + " but batch has " +
                           std::to_string(batch.shape()[0]) + " rows");
  }
  auto keep = std::make_shared<Tensor>(batch);  // shares the batch's storage with every piece
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  if (batch.dtype() == DataType::kBytes) {
    int64_t per_row = batch.shape()[0] ? batch.element_count() / batch.shape()[0] : 0;
    BW_ASSIGN_OR_RETURN(auto offsets, BytesOffsets(batch.bytes(), batch.element_count()));
    size_t elem = 0;
    for (int64_t rows : sizes) {
      size_t begin = offsets[elem];
      elem += static_cast<size_t>(rows * per_row);
      out.push_back(Tensor::Borrow(batch.dtype(), WithFirstDim(batch.shape(), rows),
                                   batch.bytes().subspan(begin, offsets[elem] - begin), keep));
    }
    return out;
  }
  size_t row_bytes = batch.shape()[0] ? batch.byte_size() / batch.shape()[0] : 0;
  size_t pos = 0;
  for (int64_t rows : sizes) {
    size_t n = static_cast<size_t>(rows) * row_bytes;
    out.push_back(Tensor::Borrow(batch.dtype(), WithFirstDim(batch.shape(), rows),
                                 batch.bytes().subspan(pos, n), keep));
    pos += n;
  }
  return out;
}

}  // namespace batchwise
