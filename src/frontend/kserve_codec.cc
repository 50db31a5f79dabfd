#include "frontend/kserve_codec.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

namespace batchwise::kserve {
namespace {

using nlohmann::json;

constexpr size_t kMaxRank = 16;
constexpr int64_t kMaxElements = int64_t{1} << 40;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// --- FP16 ---

uint16_t FloatToHalf(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff)
    return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow: infinity
  if (exp <= 0) {                                               // subnormal or zero
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) ++half;  // may carry into the exponent
  return static_cast<uint16_t>(half);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

// --- Request fields ---

Result<Shape> ParseShape(const json& j, const std::string& what) {
  if (!j.is_array()) return InvalidArgument(what + ": \"shape\" must be an array of integers");
  if (j.size() > kMaxRank) return InvalidArgument(what + ": shape has more than 16 dimensions");
  Shape shape;
  int64_t count = 1;
  for (const json& d : j) {
    if (!d.is_number_integer()) {
      return InvalidArgument(what + ": shape " + Dump(j) + " has a non-integer dimension");
    }
    if (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0) {
      return InvalidArgument(what + ": shape " + Dump(j) + " has a negative dimension");
    }
    const uint64_t v = d.get<uint64_t>();
    if (v > static_cast<uint64_t>(kMaxElements) ||
        (v > 0 && count > kMaxElements / static_cast<int64_t>(v))) {
      return InvalidArgument(what + ": shape " + Dump(j) + " has too many elements");
    }
    count *= static_cast<int64_t>(v);
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

// Row-major leaves of `data` (flat or nested arrays), at most `limit` of them.
Status Flatten(const json& data, size_t depth, size_t limit, std::vector<const json*>& out) {
  if (!data.is_array()) {
    if (out.size() >= limit) return InvalidArgument("more elements than the shape holds");
    out.push_back(&data);
    return Status::Ok();
  }
  if (depth > kMaxRank) return InvalidArgument("\"data\" is nested deeper than any shape");
  for (const json& e : data) BW_RETURN_IF_ERROR(Flatten(e, depth + 1, limit, out));
  return Status::Ok();
}

template <typename T>
bool PutInteger(const json& v, std::byte* dst) {
  T t;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (!std::in_range<T>(u)) return false;
    t = static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (!std::in_range<T>(i)) return false;
    t = static_cast<T>(i);
  } else {
    return false;
  }
  std::memcpy(dst, &t, sizeof(T));
  return true;
}

template <typename T>
bool PutFloat(const json& v, std::byte* dst) {
  if (!v.is_number()) return false;
  const T t = static_cast<T>(v.get<double>());
  std::memcpy(dst, &t, sizeof(T));
  return true;
}

bool PutElement(DataType dtype, const json& v, std::byte* dst) {
  switch (dtype) {
    case DataType::kBool:
      if (!v.is_boolean()) return false;
      *dst = std::byte{v.get<bool>() ? uint8_t{1} : uint8_t{0}};
      return true;
    case DataType::kUint8:
      return PutInteger<uint8_t>(v, dst);
    case DataType::kUint16:
      return PutInteger<uint16_t>(v, dst);
    case DataType::kUint32:
      return PutInteger<uint32_t>(v, dst);
    case DataType::kUint64:
      return PutInteger<uint64_t>(v, dst);
    case DataType::kInt8:
      return PutInteger<int8_t>(v, dst);
    case DataType::kInt16:
      return PutInteger<int16_t>(v, dst);
    case DataType::kInt32:
      return PutInteger<int32_t>(v, dst);
    case DataType::kInt64:
      return PutInteger<int64_t>(v, dst);
    case DataType::kFp16: {
      if (!v.is_number()) return false;
      const uint16_t h = FloatToHalf(static_cast<float>(v.get<double>()));
      std::memcpy(dst, &h, 2);
      return true;
    }
    case DataType::kFp32:
      return PutFloat<float>(v, dst);
    case DataType::kFp64:
      return PutFloat<double>(v, dst);
    case DataType::kBytes:
      return false;
  }
  return false;
}

Result<Tensor> BytesFromJson(const Shape& shape, const std::vector<const json*>& leaves,
                             const std::string& what) {
  size_t total = 0;
  for (const json* v : leaves) {
    if (!v->is_string()) return InvalidArgument(what + ": BYTES data must be strings");
    total += 4 + v->get_ref<const std::string&>().size();
  }
  Tensor t = Tensor::Allocate(DataType::kBytes, shape, total);
  std::byte* p = t.mutable_data();
  for (const json* v : leaves) {
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > std::numeric_limits<uint32_t>::max()) {
      return InvalidArgument(what + ": a BYTES element is longer than 4 GiB");
    }
    const uint32_t n = static_cast<uint32_t>(s.size());
    std::memcpy(p, &n, 4);  // little-endian on every platform Batchwise builds for
    std::memcpy(p + 4, s.data(), n);
    p += 4 + n;
  }
  return t;
}

Result<Tensor> TensorFromJson(DataType dtype, const Shape& shape, const json& data,
                              const std::string& what) {
  const size_t expected = static_cast<size_t>(ElementCount(shape));
  std::vector<const json*> leaves;
  Status flat = Flatten(data, 0, expected, leaves);
  if (!flat.ok() || leaves.size() != expected) {
    return InvalidArgument(
        what + ": \"data\" has " + (flat.ok() ? std::to_string(leaves.size()) : "more") +
        " elements but shape " + ShapeToString(shape) + " needs " + std::to_string(expected));
  }
  if (dtype == DataType::kBytes) return BytesFromJson(shape, leaves, what);
  Tensor t = Tensor::Allocate(dtype, shape);
  const size_t width = DataTypeSize(dtype);
  std::byte* p = t.mutable_data();
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!PutElement(dtype, *leaves[i], p + i * width)) {
      return InvalidArgument(what + ": element " + std::to_string(i) + " (" + Dump(*leaves[i]) +
                             ") is not a valid " + std::string(DataTypeName(dtype)));
    }
  }
  return t;
}

// A binary input: `size` bytes of `body` from `offset`; borrowed when aligned for its type.
Result<Tensor> TensorFromBinary(DataType dtype, const Shape& shape,
                                const std::shared_ptr<const std::string>& body, size_t offset,
                                size_t size, const std::string& what) {
  const auto* data = reinterpret_cast<const std::byte*>(body->data()) + offset;
  std::span<const std::byte> bytes(data, size);
  const size_t align = std::max<size_t>(1, DataTypeSize(dtype));
  Tensor t = reinterpret_cast<uintptr_t>(data) % align == 0
                 ? Tensor::Borrow(dtype, shape, bytes, body)
                 : Tensor::CopyOf(dtype, shape, bytes);
  Status valid = t.Validate();
  if (!valid.ok()) return InvalidArgument(what + ": " + valid.message());
  return t;
}

const json* Parameter(const json& j, const char* key) {
  auto p = j.find("parameters");
  if (p == j.end() || !p->is_object()) return nullptr;
  auto v = p->find(key);
  return v == p->end() ? nullptr : &*v;
}

Status CheckParameters(const json& j, const std::string& what) {
  auto p = j.find("parameters");
  if (p != j.end() && !p->is_object())
    return InvalidArgument(what + ": \"parameters\" must be an object");
  if (Parameter(j, "shared_memory_region") != nullptr) {
    return InvalidArgument(what + ": the shared-memory extension is not supported");
  }
  return Status::Ok();
}

Result<NamedTensor> DecodeInput(const json& in, size_t index,
                                const std::shared_ptr<const std::string>& body, size_t& offset) {
  std::string what = "input " + std::to_string(index);
  if (!in.is_object()) return InvalidArgument(what + " must be an object");
  auto name = in.find("name");
  if (name == in.end() || !name->is_string()) return InvalidArgument(what + " has no \"name\"");
  NamedTensor out{name->get<std::string>(), {}};
  what = "input '" + out.name + "'";
  BW_RETURN_IF_ERROR(CheckParameters(in, what));
  auto dt = in.find("datatype");
  if (dt == in.end() || !dt->is_string()) return InvalidArgument(what + " has no \"datatype\"");
  auto dtype = ParseDataType(dt->get<std::string>());
  if (!dtype.ok()) {
    return InvalidArgument(what + ": \"" + dt->get<std::string>() + "\" is not a KServe datatype");
  }
  auto sh = in.find("shape");
  if (sh == in.end()) return InvalidArgument(what + " has no \"shape\"");
  BW_ASSIGN_OR_RETURN(Shape shape, ParseShape(*sh, what));
  const json* binary = Parameter(in, "binary_data_size");
  auto data = in.find("data");
  if (binary != nullptr && data != in.end()) {
    return InvalidArgument(what + " has both \"data\" and binary_data_size");
  }
  if (binary != nullptr) {
    if (!binary->is_number_unsigned()) {
      return InvalidArgument(what + ": binary_data_size must be a non-negative integer");
    }
    const uint64_t size = binary->get<uint64_t>();
    if (size > body->size() - offset) {
      return InvalidArgument(what + ": binary_data_size " + std::to_string(size) +
                             " runs past the end of the body (" +
                             std::to_string(body->size() - offset) + " binary bytes left)");
    }
    BW_ASSIGN_OR_RETURN(out.tensor, TensorFromBinary(*dtype, shape, body, offset, size, what));
    offset += size;
    return out;
  }
  if (data == in.end()) return InvalidArgument(what + " has neither \"data\" nor binary_data_size");
  BW_ASSIGN_OR_RETURN(out.tensor, TensorFromJson(*dtype, shape, *data, what));
  return out;
}

Status DecodeOutputs(const json& j, DecodedInferRequest& out) {
  auto outputs = j.find("outputs");
  if (outputs == j.end()) return Status::Ok();
  if (!outputs->is_array()) return InvalidArgument("\"outputs\" must be an array");
  for (size_t i = 0; i < outputs->size(); ++i) {
    const json& o = (*outputs)[i];
    auto name = o.is_object() ? o.find("name") : o.end();
    if (!o.is_object() || name == o.end() || !name->is_string()) {
      return InvalidArgument("output " + std::to_string(i) + " has no \"name\"");
    }
    const std::string what = "output '" + name->get<std::string>() + "'";
    BW_RETURN_IF_ERROR(CheckParameters(o, what));
    if (Parameter(o, "classification") != nullptr) {
      return InvalidArgument(what + ": the classification extension is not supported");
    }
    if (const json* b = Parameter(o, "binary_data")) {
      if (!b->is_boolean()) return InvalidArgument(what + ": binary_data must be a boolean");
      out.encoding.binary_by_output[name->get<std::string>()] = b->get<bool>();
    }
    out.request.requested_outputs.push_back(name->get<std::string>());
  }
  return Status::Ok();
}

Status DecodeRequestFields(const json& j, DecodedInferRequest& out) {
  BW_RETURN_IF_ERROR(CheckParameters(j, "request"));
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_string()) return InvalidArgument("\"id\" must be a string");
    out.request.id = id->get<std::string>();
  }
  if (const json* b = Parameter(j, "binary_data_output")) {
    if (!b->is_boolean()) return InvalidArgument("binary_data_output must be a boolean");
    out.encoding.binary_default = b->get<bool>();
  }
  if (const json* t = Parameter(j, "timeout")) {  // Triton: microseconds
    if (!t->is_number_unsigned() || t->get<uint64_t>() > (uint64_t{1} << 40)) {
      return InvalidArgument("parameter \"timeout\" must be a non-negative integer (microseconds)");
    }
    out.request.timeout = std::chrono::microseconds(t->get<uint64_t>());
  }
  return Status::Ok();
}

Result<json> ParseJson(const std::string& body, size_t size) {
  try {
    return json::parse(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(size));
  } catch (const json::parse_error& e) {
    return InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
}

Result<DecodedInferRequest> Decode(const std::shared_ptr<const std::string>& body,
                                   size_t json_size) {
  BW_ASSIGN_OR_RETURN(json j, ParseJson(*body, json_size));
  if (!j.is_object()) return InvalidArgument("the request must be a JSON object");
  DecodedInferRequest out;
  BW_RETURN_IF_ERROR(DecodeRequestFields(j, out));
  BW_RETURN_IF_ERROR(DecodeOutputs(j, out));
  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array()) {
    return InvalidArgument("the request has no \"inputs\" array");
  }
  size_t offset = json_size;
  for (size_t i = 0; i < inputs->size(); ++i) {
    BW_ASSIGN_OR_RETURN(NamedTensor t, DecodeInput((*inputs)[i], i, body, offset));
    out.request.inputs.push_back(std::move(t));
  }
  if (offset != body->size()) {
    return InvalidArgument(
        std::to_string(body->size() - json_size) +
        " bytes follow the JSON header but the inputs' binary_data_size sum to " +
        std::to_string(offset - json_size));
  }
  return out;
}

// --- Responses ---

template <typename T>
json Numbers(const Tensor& t) {
  json a = json::array();
  for (T v : t.as<T>()) a.push_back(v);
  return a;
}

json BoolsJson(const Tensor& t) {
  json a = json::array();
  for (std::byte b : t.bytes()) a.push_back(b != std::byte{0});
  return a;
}

json HalfsJson(const Tensor& t) {
  json a = json::array();
  for (uint16_t h : t.as<uint16_t>()) a.push_back(HalfToFloat(h));
  return a;
}

json BytesJson(const Tensor& t) {
  json a = json::array();
  const std::byte* p = t.data();
  const std::byte* end = p + t.byte_size();
  while (p + 4 <= end) {
    uint32_t n;
    std::memcpy(&n, p, 4);
    a.push_back(std::string(reinterpret_cast<const char*>(p + 4), n));
    p += 4 + n;
  }
  return a;
}

json DataJson(const Tensor& t) {
  switch (t.dtype()) {
    case DataType::kBool:
      return BoolsJson(t);
    case DataType::kUint8:
      return Numbers<uint8_t>(t);
    case DataType::kUint16:
      return Numbers<uint16_t>(t);
    case DataType::kUint32:
      return Numbers<uint32_t>(t);
    case DataType::kUint64:
      return Numbers<uint64_t>(t);
    case DataType::kInt8:
      return Numbers<int8_t>(t);
    case DataType::kInt16:
      return Numbers<int16_t>(t);
    case DataType::kInt32:
      return Numbers<int32_t>(t);
    case DataType::kInt64:
      return Numbers<int64_t>(t);
    case DataType::kFp16:
      return HalfsJson(t);
    case DataType::kFp32:
      return Numbers<float>(t);
    case DataType::kFp64:
      return Numbers<double>(t);
    case DataType::kBytes:
      return BytesJson(t);
  }
  return json::array();
}

}  // namespace

bool OutputEncoding::Binary(const std::string& output) const {
  auto it = binary_by_output.find(output);
  return it == binary_by_output.end() ? binary_default : it->second;
}

Result<size_t> ParseJsonHeaderLength(std::string_view value) {
  size_t n = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty()) {
    return InvalidArgument("Inference-Header-Content-Length '" + std::string(value) +
                           "' is not a byte count");
  }
  return n;
}

Result<DecodedInferRequest> DecodeInferRequest(std::shared_ptr<const std::string> body,
                                               std::optional<size_t> json_size) {
  if (body == nullptr) return InvalidArgument("no request body");
  const size_t size = json_size.value_or(body->size());
  if (size > body->size()) {
    return InvalidArgument("Inference-Header-Content-Length " + std::to_string(size) +
                           " exceeds the body (" + std::to_string(body->size()) + " bytes)");
  }
  try {
    return Decode(body, size);
  } catch (const json::exception& e) {  // a type check this decoder missed: still the client's
    return InvalidArgument(std::string("bad request: ") + e.what());
  }
}

Result<EncodedResponse> EncodeInferResponse(const InferResponse& response,
                                            const OutputEncoding& encoding) {
  json j = {{"model_name", response.model}, {"model_version", "1"}};
  if (!response.id.empty()) j["id"] = response.id;
  j["parameters"] = {{"processor", response.processor}, {"simulated", response.simulated}};
  json outputs = json::array();
  std::vector<const Tensor*> binary;
  size_t binary_bytes = 0;
  for (const NamedTensor& o : response.outputs) {
    BW_RETURN_IF_ERROR(o.tensor.Validate().WithContext("output '" + o.name + "'"));
    json out = {{"name", o.name},
                {"datatype", DataTypeName(o.tensor.dtype())},
                {"shape", o.tensor.shape()}};
    if (encoding.Binary(o.name)) {
      out["parameters"] = {{"binary_data_size", o.tensor.byte_size()}};
      binary.push_back(&o.tensor);
      binary_bytes += o.tensor.byte_size();
    } else {
      out["data"] = DataJson(o.tensor);
    }
    outputs.push_back(std::move(out));
  }
  j["outputs"] = std::move(outputs);
  EncodedResponse encoded{Dump(j), std::nullopt};
  if (binary.empty()) return encoded;
  encoded.json_size = encoded.body.size();
  encoded.body.reserve(encoded.body.size() + binary_bytes);
  for (const Tensor* t : binary) {
    encoded.body.append(reinterpret_cast<const char*>(t->data()), t->byte_size());
  }
  return encoded;
}

}  // namespace batchwise::kserve
