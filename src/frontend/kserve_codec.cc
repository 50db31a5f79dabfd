#include "frontend/kserve_codec.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "common/client_tensor.h"
#include "frontend/json_tree.h"

namespace batchwise::kserve {
namespace {

using nlohmann::json;


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

// The JSON form of a shape; its limits are CheckClientShape's (common/client_tensor.h).
Result<Shape> ParseShape(JsonValue j, const std::string& what) {
  if (!j.is_array()) return InvalidArgument(what + ": \"shape\" must be an array of integers");
  Shape shape;
  for (JsonValue d : j) {
    if (!d.is_number_integer()) {
      return InvalidArgument(what + ": shape " + j.Dump() + " has a non-integer dimension");
    }
    if (!d.is_number_unsigned()) {
      return InvalidArgument(what + ": shape " + j.Dump() + " has a negative dimension");
    }
    if (d.uint64() > static_cast<uint64_t>(kMaxClientElements)) {
      return InvalidArgument(what + ": shape " + j.Dump() + " has too many elements");
    }
    shape.push_back(static_cast<int64_t>(d.uint64()));
  }
  BW_RETURN_IF_ERROR(CheckClientShape(shape, what).status());
  return shape;
}

// Row-major leaves of `data` (flat or nested arrays), at most `limit` of them.
Status Flatten(JsonValue data, size_t depth, size_t limit, std::vector<JsonValue>& out) {
  if (!data.is_array()) {
    if (out.size() >= limit) return InvalidArgument("more elements than the shape holds");
    out.push_back(data);
    return Status::Ok();
  }
  if (depth > kMaxClientRank) return InvalidArgument("\"data\" is nested deeper than any shape");
  for (JsonValue e : data) BW_RETURN_IF_ERROR(Flatten(e, depth + 1, limit, out));
  return Status::Ok();
}

// The value in `dtype`'s range (client_tensor.h: IntegerFits, FloatFits), else false.
template <typename T>
bool PutInteger(DataType dtype, JsonValue v, std::byte* dst) {
  T t;
  if (v.is_number_unsigned()) {
    if (!UnsignedFits(dtype, v.uint64())) return false;
    t = static_cast<T>(v.uint64());
  } else if (v.is_number_integer()) {
    if (!IntegerFits(dtype, v.int64())) return false;
    t = static_cast<T>(v.int64());
  } else {
    return false;
  }
  std::memcpy(dst, &t, sizeof(T));
  return true;
}

template <typename T>
bool PutFloat(DataType dtype, JsonValue v, std::byte* dst) {
  if (!v.is_number() || !FloatFits(dtype, v.number())) return false;
  const T t = static_cast<T>(v.number());
  std::memcpy(dst, &t, sizeof(T));
  return true;
}

bool PutElement(DataType dtype, JsonValue v, std::byte* dst) {
  switch (dtype) {
    case DataType::kBool:
      if (!v.is_boolean()) return false;
      *dst = std::byte{v.boolean() ? uint8_t{1} : uint8_t{0}};
      return true;
    case DataType::kUint8:
      return PutInteger<uint8_t>(dtype, v, dst);
    case DataType::kUint16:
      return PutInteger<uint16_t>(dtype, v, dst);
    case DataType::kUint32:
      return PutInteger<uint32_t>(dtype, v, dst);
    case DataType::kUint64:
      return PutInteger<uint64_t>(dtype, v, dst);
    case DataType::kInt8:
      return PutInteger<int8_t>(dtype, v, dst);
    case DataType::kInt16:
      return PutInteger<int16_t>(dtype, v, dst);
    case DataType::kInt32:
      return PutInteger<int32_t>(dtype, v, dst);
    case DataType::kInt64:
      return PutInteger<int64_t>(dtype, v, dst);
    case DataType::kFp16: {
      if (!v.is_number() || !FloatFits(dtype, v.number())) return false;
      const uint16_t h = FloatToHalf(static_cast<float>(v.number()));
      std::memcpy(dst, &h, 2);
      return true;
    }
    case DataType::kFp32:
      return PutFloat<float>(dtype, v, dst);
    case DataType::kFp64:
      return PutFloat<double>(dtype, v, dst);
    case DataType::kBytes:
      return false;
  }
  return false;
}

Result<Tensor> BytesFromJson(const Shape& shape, const std::vector<JsonValue>& leaves,
                             const std::string& what) {
  size_t total = 0;
  for (JsonValue v : leaves) {
    if (!v.is_string()) return InvalidArgument(what + ": BYTES data must be strings");
    total += 4 + v.string().size();
  }
  Tensor t = Tensor::Allocate(DataType::kBytes, shape, total);
  std::byte* p = t.mutable_data();
  for (JsonValue v : leaves) {
    const std::string_view s = v.string();
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

Result<Tensor> TensorFromJson(DataType dtype, const Shape& shape, JsonValue data,
                              const std::string& what) {
  const size_t expected = static_cast<size_t>(ElementCount(shape));
  std::vector<JsonValue> leaves;
  // The shape is the client's claim, the data what it sent: reserve no more than a modest
  // guess, never what the shape alone says (a 200-byte body with shape [23,4444442,2] asked for
  // 3.2 GB here, found by kserve_codec_fuzz); past it the vector grows with the real leaves.
  leaves.reserve(std::min<size_t>(expected, 4096));
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
    if (!PutElement(dtype, leaves[i], p + i * width)) {
      return InvalidArgument(what + ": element " + std::to_string(i) + " (" + leaves[i].Dump() +
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
  BW_RETURN_IF_ERROR(CheckClientTensor(t, what));
  return t;
}

JsonValue Parameter(JsonValue j, std::string_view key) {
  JsonValue p = j.Find("parameters");
  return p.is_object() ? p.Find(key) : JsonValue();
}

Status CheckParameters(JsonValue j, const std::string& what) {
  JsonValue p = j.Find("parameters");
  if (p.exists() && !p.is_object())
    return InvalidArgument(what + ": \"parameters\" must be an object");
  return Status::Ok();
}

// The tensor's shared-memory parameters; refused when there is no registry to resolve them.
Result<std::optional<SharedMemoryRef>> SharedMemoryParameters(
    JsonValue j, const std::string& what, const SharedMemoryRegistry* registry) {
  std::optional<std::string> region;
  std::optional<uint64_t> size, offset;
  if (JsonValue r = Parameter(j, "shared_memory_region"); r.exists()) {
    if (!r.is_string()) return InvalidArgument(what + ": shared_memory_region must be a string");
    region = std::string(r.string());
  }
  for (auto [key, value] :
       {std::pair{"shared_memory_byte_size", &size}, std::pair{"shared_memory_offset", &offset}}) {
    JsonValue v = Parameter(j, key);
    if (!v.exists()) continue;
    if (!v.is_number_unsigned()) {
      return InvalidArgument(what + ": " + key + " must be a non-negative integer");
    }
    *value = v.uint64();
  }
  BW_ASSIGN_OR_RETURN(auto ref, SharedMemoryRef::From(region, size, offset, what));
  if (ref && registry == nullptr) {
    return InvalidArgument(what + ": the shared-memory extension is not enabled here");
  }
  return ref;
}

Result<NamedTensor> DecodeInput(JsonValue in, size_t index,
                                const std::shared_ptr<const std::string>& body, size_t& offset,
                                const SharedMemoryRegistry* shared_memory) {
  if (!in.is_object())
    return InvalidArgument("input " + std::to_string(index) + " must be an object");
  JsonValue name = in.Find("name");
  if (!name.is_string()) {
    return InvalidArgument("input " + std::to_string(index) + " has no \"name\"");
  }
  NamedTensor out{std::string(name.string()), {}};
  const std::string what = "input '" + out.name + "'";
  BW_RETURN_IF_ERROR(CheckParameters(in, what));
  JsonValue dt = in.Find("datatype");
  if (!dt.is_string()) return InvalidArgument(what + " has no \"datatype\"");
  auto dtype = ParseDataType(dt.string());
  if (!dtype.ok()) {
    return InvalidArgument(what + ": \"" + std::string(dt.string()) +
                           "\" is not a KServe datatype");
  }
  JsonValue sh = in.Find("shape");
  if (!sh.exists()) return InvalidArgument(what + " has no \"shape\"");
  BW_ASSIGN_OR_RETURN(Shape shape, ParseShape(sh, what));
  JsonValue binary = Parameter(in, "binary_data_size");
  JsonValue data = in.Find("data");
  BW_ASSIGN_OR_RETURN(auto shm, SharedMemoryParameters(in, what, shared_memory));
  if (shm) {
    if (binary.exists() || data.exists()) {
      return InvalidArgument(what +
                             " has shared-memory parameters and also \"data\" or "
                             "binary_data_size");
    }
    BW_ASSIGN_OR_RETURN(out.tensor, shared_memory->InputTensor(*shm, *dtype, shape, what));
    BW_RETURN_IF_ERROR(CheckClientTensor(out.tensor, what));
    return out;
  }
  if (binary.exists() && data.exists()) {
    return InvalidArgument(what + " has both \"data\" and binary_data_size");
  }
  if (binary.exists()) {
    if (!binary.is_number_unsigned()) {
      return InvalidArgument(what + ": binary_data_size must be a non-negative integer");
    }
    const uint64_t size = binary.uint64();
    if (size > body->size() - offset) {
      return InvalidArgument(what + ": binary_data_size " + std::to_string(size) +
                             " runs past the end of the body (" +
                             std::to_string(body->size() - offset) + " binary bytes left)");
    }
    BW_ASSIGN_OR_RETURN(out.tensor, TensorFromBinary(*dtype, shape, body, offset, size, what));
    offset += size;
    return out;
  }
  if (!data.exists()) return InvalidArgument(what + " has neither \"data\" nor binary_data_size");
  BW_ASSIGN_OR_RETURN(out.tensor, TensorFromJson(*dtype, shape, data, what));
  BW_RETURN_IF_ERROR(CheckClientTensor(out.tensor, what));
  return out;
}

Status DecodeOutputs(JsonValue j, DecodedInferRequest& out,
                     const SharedMemoryRegistry* shared_memory) {
  JsonValue outputs = j.Find("outputs");
  if (!outputs.exists()) return Status::Ok();
  if (!outputs.is_array()) return InvalidArgument("\"outputs\" must be an array");
  size_t i = 0;
  for (JsonValue o : outputs) {
    JsonValue name = o.Find("name");
    if (!name.is_string()) {
      return InvalidArgument("output " + std::to_string(i) + " has no \"name\"");
    }
    std::string output(name.string());
    const std::string what = "output '" + output + "'";
    BW_RETURN_IF_ERROR(CheckParameters(o, what));
    if (Parameter(o, "classification").exists()) {
      return InvalidArgument(what + ": the classification extension is not supported");
    }
    if (JsonValue b = Parameter(o, "binary_data"); b.exists()) {
      if (!b.is_boolean()) return InvalidArgument(what + ": binary_data must be a boolean");
      out.encoding.binary_by_output[output] = b.boolean();
    }
    BW_ASSIGN_OR_RETURN(auto shm, SharedMemoryParameters(o, what, shared_memory));
    if (shm) {
      BW_ASSIGN_OR_RETURN(out.encoding.shared_memory[output], shared_memory->Find(*shm, what));
    }
    out.request.requested_outputs.push_back(std::move(output));
    ++i;
  }
  return Status::Ok();
}

Status DecodeRequestFields(JsonValue j, DecodedInferRequest& out) {
  BW_RETURN_IF_ERROR(CheckParameters(j, "request"));
  if (Parameter(j, "shared_memory_region").exists()) {
    return InvalidArgument("request: shared-memory parameters belong to an input or an output");
  }
  if (JsonValue id = j.Find("id"); id.exists()) {
    if (!id.is_string()) return InvalidArgument("\"id\" must be a string");
    out.request.id = std::string(id.string());
  }
  if (JsonValue b = Parameter(j, "binary_data_output"); b.exists()) {
    if (!b.is_boolean()) return InvalidArgument("binary_data_output must be a boolean");
    out.encoding.binary_default = b.boolean();
  }
  if (JsonValue t = Parameter(j, "timeout"); t.exists()) {  // Triton: microseconds
    if (!t.is_number_unsigned() || t.uint64() > (uint64_t{1} << 40)) {
      return InvalidArgument("parameter \"timeout\" must be a non-negative integer (microseconds)");
    }
    out.request.timeout = std::chrono::microseconds(t.uint64());
  }
  return Status::Ok();
}

Result<DecodedInferRequest> Decode(const std::shared_ptr<const std::string>& body, size_t json_size,
                                   const SharedMemoryRegistry* shared_memory) {
  BW_ASSIGN_OR_RETURN(JsonTree tree, JsonTree::Parse(std::string_view(*body).substr(0, json_size)));
  const JsonValue j = tree.root();
  if (!j.is_object()) return InvalidArgument("the request must be a JSON object");
  DecodedInferRequest out;
  BW_RETURN_IF_ERROR(DecodeRequestFields(j, out));
  BW_RETURN_IF_ERROR(DecodeOutputs(j, out, shared_memory));
  JsonValue inputs = j.Find("inputs");
  if (!inputs.is_array()) return InvalidArgument("the request has no \"inputs\" array");
  size_t offset = json_size, i = 0;
  out.request.inputs.reserve(inputs.size());
  for (JsonValue in : inputs) {
    BW_ASSIGN_OR_RETURN(NamedTensor t, DecodeInput(in, i++, body, offset, shared_memory));
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

// A JSON string: as is when it is printable ASCII without quotes or backslashes (names, ids,
// processors almost always are), else escaped exactly as the DOM would dump it.
void AppendString(std::string& out, const std::string& s) {
  const bool plain = std::all_of(
      s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
  if (!plain) {
    out += Dump(json(s));
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

template <typename T>
void AppendInteger(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
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
                                               std::optional<size_t> json_size,
                                               const SharedMemoryRegistry* shared_memory) {
  if (body == nullptr) return InvalidArgument("no request body");
  const size_t size = json_size.value_or(body->size());
  if (size > body->size()) {
    return InvalidArgument("Inference-Header-Content-Length " + std::to_string(size) +
                           " exceeds the body (" + std::to_string(body->size()) + " bytes)");
  }
  return Decode(body, size, shared_memory);
}

Result<EncodedResponse> EncodeInferResponse(const InferResponse& response,
                                            const OutputEncoding& encoding) {
  // Written directly rather than through a JSON DOM: this runs once per answered request, and on
  // a small model building and dumping the DOM cost more CPU than the rest of the encoding.
  std::map<std::string, uint64_t> in_shared_memory;
  if (!encoding.shared_memory.empty()) {
    BW_ASSIGN_OR_RETURN(in_shared_memory,
                        WriteSharedMemoryOutputs(response.outputs, encoding.shared_memory));
  }
  EncodedResponse encoded;
  std::string& out = encoded.body;
  out.reserve(256);
  out += "{\"model_name\":";
  AppendString(out, response.model);
  out += ",\"model_version\":\"" + std::to_string(response.model_version) + "\"";
  if (!response.id.empty()) {
    out += ",\"id\":";
    AppendString(out, response.id);
  }
  out += ",\"parameters\":{\"processor\":";
  AppendString(out, response.processor);
  out += response.simulated ? ",\"simulated\":true}" : ",\"simulated\":false}";
  out += ",\"outputs\":[";
  std::vector<const Tensor*> binary;
  size_t binary_bytes = 0;
  for (const NamedTensor& o : response.outputs) {
    BW_RETURN_IF_ERROR(o.tensor.Validate().WithContext("output '" + o.name + "'"));
    if (&o != &response.outputs.front()) out += ',';
    out += "{\"name\":";
    AppendString(out, o.name);
    out += ",\"datatype\":\"";
    out += DataTypeName(o.tensor.dtype());
    out += "\",\"shape\":[";
    for (size_t i = 0; i < o.tensor.shape().size(); ++i) {
      if (i > 0) out += ',';
      AppendInteger(out, o.tensor.shape()[i]);
    }
    out += ']';
    if (auto shm = in_shared_memory.find(o.name); shm != in_shared_memory.end()) {
      out += ",\"parameters\":{\"shared_memory_region\":";
      AppendString(out, encoding.shared_memory.at(o.name).region);
      out += ",\"shared_memory_byte_size\":";
      AppendInteger(out, shm->second);
      out += "}}";
    } else if (encoding.Binary(o.name)) {
      out += ",\"parameters\":{\"binary_data_size\":";
      AppendInteger(out, o.tensor.byte_size());
      out += "}}";
      binary.push_back(&o.tensor);
      binary_bytes += o.tensor.byte_size();
    } else {
      out += ",\"data\":";
      out += Dump(DataJson(o.tensor));
      out += '}';
    }
  }
  out += "]}";
  if (binary.empty()) return encoded;
  encoded.json_size = out.size();
  out.reserve(out.size() + binary_bytes);
  for (const Tensor* t : binary)
    out.append(reinterpret_cast<const char*>(t->data()), t->byte_size());
  return encoded;
}

}  // namespace batchwise::kserve
