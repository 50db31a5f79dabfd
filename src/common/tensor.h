// Tensor: a typed, shaped block of bytes, owned or borrowed.
//
// Storage is reference-counted and immutable once shared: copying a Tensor copies the shape and a
// pointer, never the data. A borrowed tensor views memory that someone else keeps alive (a request
// body, a batch output) through an optional keep-alive handle. Safe to read from many threads.
//
// Datatypes are the KServe v2 set. BYTES tensors hold their elements serialized as the binary
// extension does: each element a 4-byte little-endian length followed by its bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace batchwise {

enum class DataType {
  kBool, kUint8, kUint16, kUint32, kUint64, kInt8, kInt16, kInt32, kInt64,
  kFp16, kFp32, kFp64, kBytes,
};

// "BOOL", "UINT8", ..., "FP32", "BYTES": the protocol's spelling.
std::string_view DataTypeName(DataType t);
Result<DataType> ParseDataType(std::string_view name);
// Bytes per element; 0 for BYTES (variable length).
size_t DataTypeSize(DataType t);

using Shape = std::vector<int64_t>;
std::string ShapeToString(const Shape& shape);
// Product of dims (1 for a scalar); -1 if any dim is negative or the product overflows int64.
int64_t ElementCount(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;

  // A new zero-filled tensor that owns its storage. For BYTES, `byte_size` gives the storage size.
  static Tensor Allocate(DataType dtype, Shape shape, size_t byte_size = 0);
  // Copies `data` into new owned storage (Validate() tells whether it fits dtype and shape).
  static Tensor CopyOf(DataType dtype, Shape shape, std::span<const std::byte> data);
  // Views `data` without copying; `keep_alive` (may be null) holds whatever owns it.
  static Tensor Borrow(DataType dtype, Shape shape, std::span<const std::byte> data,
                       std::shared_ptr<const void> keep_alive = nullptr);
  // Convenience for tests and engines: an FP32 tensor from values.
  static Tensor FromFloats(Shape shape, std::span<const float> values);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t element_count() const { return ElementCount(shape_); }
  size_t byte_size() const { return size_; }
  const std::byte* data() const { return data_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  // Writable access; only valid for tensors from Allocate() that nobody else has viewed yet.
  std::byte* mutable_data() { return const_cast<std::byte*>(data_); }
  bool owns_storage() const { return owned_; }

  template <typename T>
  std::span<const T> as() const {
    return {reinterpret_cast<const T*>(data_), size_ / sizeof(T)};
  }
  template <typename T>
  std::span<T> mutable_as() {
    return {reinterpret_cast<T*>(mutable_data()), size_ / sizeof(T)};
  }

  // Checks that the byte size matches dtype and shape (and, for BYTES, that every length prefix
  // stays inside the buffer and the element count matches the shape).
  Status Validate() const;

  // A tensor with the same storage and a new shape of the same element count.
  Result<Tensor> Reshaped(Shape shape) const;

 private:
  static Tensor AllocateBytes(DataType dtype, Shape shape, size_t byte_size);

  DataType dtype_ = DataType::kFp32;
  Shape shape_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  bool owned_ = false;
  std::shared_ptr<const void> hold_;  // keeps the storage alive
};

// Joins per-request tensors along dimension 0 into one batch. All parts need the same dtype and
// the same dims after the first. A single part is returned as is (no copy); otherwise exactly one
// copy of each part is made into the batch.
Result<Tensor> ConcatBatch(std::span<const Tensor> parts);

// Splits a batch along dimension 0 into pieces of the given first-dim sizes (which must sum to the
// batch's first dim). Pieces borrow the batch's storage: no copies.
Result<std::vector<Tensor>> SplitBatch(const Tensor& batch, std::span<const int64_t> sizes);

}  // namespace batchwise
