#include "common/bytes_tensor.h"

#include <cstring>

namespace batchwise {

Tensor MakeBytesTensor(Shape shape, const std::vector<std::string>& elements) {
  size_t size = 0;
  for (const auto& e : elements) size += 4 + e.size();
  Tensor t = Tensor::Allocate(DataType::kBytes, std::move(shape), size);
  std::byte* p = t.mutable_data();
  for (const auto& e : elements) {
    const uint32_t len = static_cast<uint32_t>(e.size());
    std::memcpy(p, &len, 4);  // little-endian hosts only, like tensor.cc
    std::memcpy(p + 4, e.data(), e.size());
    p += 4 + e.size();
  }
  return t;
}

Result<std::vector<std::string_view>> BytesElements(const Tensor& t) {
  if (t.dtype() != DataType::kBytes) return InvalidArgument("not a BYTES tensor");
  BW_RETURN_IF_ERROR(t.Validate());  // every prefix inside the buffer, count matches the shape
  std::vector<std::string_view> out;
  const char* p = reinterpret_cast<const char*>(t.data());
  const char* end = p + t.byte_size();
  while (p < end) {
    uint32_t len;
    std::memcpy(&len, p, 4);
    out.emplace_back(p + 4, len);
    p += 4 + len;
  }
  return out;
}

}  // namespace batchwise
