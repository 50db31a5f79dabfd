#include "frontend/grpc_codec.h"

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/bytes_tensor.h"
#include "common/client_tensor.h"

namespace batchwise::kserve {
namespace {

using inference::InferParameter;
using inference::InferTensorContents;
using inference::ModelInferRequest;
using RawContents = google::protobuf::RepeatedPtrField<std::string>;
using Parameters = google::protobuf::Map<std::string, InferParameter>;

// A non-negative integer parameter (int64 or uint64), if present.
Result<std::optional<uint64_t>> UnsignedParameter(const Parameters& p, const std::string& key,
                                                  const std::string& what) {
  auto it = p.find(key);
  if (it == p.end()) return std::optional<uint64_t>();
  const InferParameter& v = it->second;
  if (v.parameter_choice_case() == InferParameter::kUint64Param)
    return std::optional<uint64_t>(v.uint64_param());
  if (v.parameter_choice_case() == InferParameter::kInt64Param && v.int64_param() >= 0) {
    return std::optional<uint64_t>(static_cast<uint64_t>(v.int64_param()));
  }
  return InvalidArgument(what + ": " + key + " must be a non-negative integer");
}

// The tensor's shared-memory parameters; refused when there is no registry to resolve them.
Result<std::optional<SharedMemoryRef>> SharedMemoryParameters(
    const Parameters& p, const std::string& what, const SharedMemoryRegistry* registry) {
  std::optional<std::string> region;
  if (auto it = p.find("shared_memory_region"); it != p.end()) {
    if (it->second.parameter_choice_case() != InferParameter::kStringParam) {
      return InvalidArgument(what + ": shared_memory_region must be a string");
    }
    region = it->second.string_param();
  }
  BW_ASSIGN_OR_RETURN(auto size, UnsignedParameter(p, "shared_memory_byte_size", what));
  BW_ASSIGN_OR_RETURN(auto offset, UnsignedParameter(p, "shared_memory_offset", what));
  BW_ASSIGN_OR_RETURN(auto ref, SharedMemoryRef::From(region, size, offset, what));
  if (ref && registry == nullptr) {
    return InvalidArgument(what + ": the shared-memory extension is not enabled here");
  }
  return ref;
}

// Request parameter "timeout": how long the request may wait, in microseconds (Triton's unit).
Status DecodeTimeout(const Parameters& p, InferRequest& out) {
  auto it = p.find("timeout");
  if (it == p.end()) return Status::Ok();
  const InferParameter& t = it->second;
  int64_t us = -1;
  if (t.parameter_choice_case() == InferParameter::kInt64Param) us = t.int64_param();
  if (t.parameter_choice_case() == InferParameter::kUint64Param &&
      t.uint64_param() <= (uint64_t{1} << 40)) {
    us = static_cast<int64_t>(t.uint64_param());
  }
  if (us < 0 || us > (int64_t{1} << 40)) {
    return InvalidArgument("parameter \"timeout\" must be a non-negative integer (microseconds)");
  }
  out.timeout = std::chrono::microseconds(us);
  return Status::Ok();
}

template <typename T>
std::span<const std::byte> AsBytes(const google::protobuf::RepeatedField<T>& f) {
  return {reinterpret_cast<const std::byte*>(f.data()), f.size() * sizeof(T)};
}

// `values` narrowed (or widened) element by element into a new tensor of `dtype`; every value
// must fit `dtype` (an INT8 sent as int_contents 300 is refused, not wrapped).
template <typename Out, typename In>
Result<Tensor> Converted(DataType dtype, const Shape& shape,
                         const google::protobuf::RepeatedField<In>& values,
                         const std::string& what) {
  std::vector<Out> v;
  v.reserve(values.size());
  for (In x : values) {
    const bool fits = std::is_signed_v<In> ? IntegerFits(dtype, static_cast<int64_t>(x))
                                           : UnsignedFits(dtype, static_cast<uint64_t>(x));
    if (!fits) {
      return InvalidArgument(what + ": element " + std::to_string(v.size()) + " (" +
                             std::to_string(x) + ") is not a valid " +
                             std::string(DataTypeName(dtype)));
    }
    v.push_back(static_cast<Out>(x));
  }
  return Tensor::CopyOf(dtype, shape,
                        {reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(Out)});
}

// The typed field of `dtype` must hold exactly the shape's element count (no other field set is
// checked: a client sends one).
Result<Tensor> FromContents(DataType dtype, const Shape& shape, const InferTensorContents& c,
                            const std::string& what) {
  const int64_t n = ElementCount(shape);
  auto count = [&](int size) -> Status {
    if (size == n) return Status::Ok();
    return InvalidArgument(what + ": " + std::to_string(size) + " elements in contents, shape " +
                           ShapeToString(shape) + " needs " + std::to_string(n));
  };
  switch (dtype) {
    case DataType::kBool: {
      BW_RETURN_IF_ERROR(count(c.bool_contents_size()));
      return Converted<uint8_t>(dtype, shape, c.bool_contents(), what);
    }
    case DataType::kInt8:
      BW_RETURN_IF_ERROR(count(c.int_contents_size()));
      return Converted<int8_t>(dtype, shape, c.int_contents(), what);
    case DataType::kInt16:
      BW_RETURN_IF_ERROR(count(c.int_contents_size()));
      return Converted<int16_t>(dtype, shape, c.int_contents(), what);
    case DataType::kInt32:
      BW_RETURN_IF_ERROR(count(c.int_contents_size()));
      return Tensor::CopyOf(dtype, shape, AsBytes(c.int_contents()));
    case DataType::kInt64:
      BW_RETURN_IF_ERROR(count(c.int64_contents_size()));
      return Tensor::CopyOf(dtype, shape, AsBytes(c.int64_contents()));
    case DataType::kUint8:
      BW_RETURN_IF_ERROR(count(c.uint_contents_size()));
      return Converted<uint8_t>(dtype, shape, c.uint_contents(), what);
    case DataType::kUint16:
      BW_RETURN_IF_ERROR(count(c.uint_contents_size()));
      return Converted<uint16_t>(dtype, shape, c.uint_contents(), what);
    case DataType::kUint32:
      BW_RETURN_IF_ERROR(count(c.uint_contents_size()));
      return Tensor::CopyOf(dtype, shape, AsBytes(c.uint_contents()));
    case DataType::kUint64:
      BW_RETURN_IF_ERROR(count(c.uint64_contents_size()));
      return Tensor::CopyOf(dtype, shape, AsBytes(c.uint64_contents()));
    case DataType::kFp32:
      BW_RETURN_IF_ERROR(count(c.fp32_contents_size()));
      return Tensor::CopyOf(dtype, shape, AsBytes(c.fp32_contents()));
    case DataType::kFp64:
      BW_RETURN_IF_ERROR(count(c.fp64_contents_size()));
      return Tensor::CopyOf(dtype, shape, AsBytes(c.fp64_contents()));
    case DataType::kBytes: {
      BW_RETURN_IF_ERROR(count(c.bytes_contents_size()));
      return MakeBytesTensor(shape, {c.bytes_contents().begin(), c.bytes_contents().end()});
    }
    case DataType::kFp16:
      break;
  }
  return InvalidArgument(what + ": " + std::string(DataTypeName(dtype)) +
                         " has no typed contents; send it in raw_input_contents");
}

// Input `i`'s bytes, viewed in `raw` (which the tensor keeps alive) when aligned for its type,
// else copied.
Tensor FromRaw(DataType dtype, const Shape& shape, const std::shared_ptr<const RawContents>& raw,
               int i) {
  const std::string& s = raw->Get(i);
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(s.data()), s.size());
  const size_t align = std::max<size_t>(1, DataTypeSize(dtype));
  if (reinterpret_cast<uintptr_t>(s.data()) % align != 0) {
    return Tensor::CopyOf(dtype, shape, bytes);
  }
  return Tensor::Borrow(dtype, shape, bytes, raw);
}

Result<NamedTensor> DecodeInput(const ModelInferRequest::InferInputTensor& in, int i,
                                const std::shared_ptr<const RawContents>& raw,
                                const SharedMemoryRegistry* shared_memory) {
  if (in.name().empty()) return InvalidArgument("input " + std::to_string(i) + " has no name");
  NamedTensor out{in.name(), {}};
  const std::string what = "input '" + in.name() + "'";
  auto dtype = ParseDataType(in.datatype());
  if (!dtype.ok()) {
    return InvalidArgument(what + ": \"" + in.datatype() + "\" is not a KServe datatype");
  }
  Shape shape(in.shape().begin(), in.shape().end());
  // Before any element count is used (the typed contents' check multiplies the dimensions).
  BW_RETURN_IF_ERROR(CheckClientShape(shape, what).status());
  BW_ASSIGN_OR_RETURN(auto shm, SharedMemoryParameters(in.parameters(), what, shared_memory));
  if (shm) {
    if (raw != nullptr || in.has_contents()) {
      return InvalidArgument(what +
                             " has shared-memory parameters and also contents (typed, "
                             "or the request's raw_input_contents)");
    }
    BW_ASSIGN_OR_RETURN(out.tensor, shared_memory->InputTensor(*shm, *dtype, shape, what));
  } else if (raw != nullptr) {
    if (in.has_contents()) {
      return InvalidArgument(what + " has contents although the request has raw_input_contents");
    }
    out.tensor = FromRaw(*dtype, shape, raw, i);
  } else {
    BW_ASSIGN_OR_RETURN(out.tensor, FromContents(*dtype, shape, in.contents(), what));
  }
  BW_RETURN_IF_ERROR(CheckClientTensor(out.tensor, what));
  return out;
}

Status DecodeOutputs(const ModelInferRequest& request, InferRequest& out,
                     const SharedMemoryRegistry* shared_memory, SharedMemoryOutputs* targets) {
  for (const auto& o : request.outputs()) {
    const std::string what = "output '" + o.name() + "'";
    if (o.name().empty()) return InvalidArgument("a requested output has no name");
    if (o.parameters().contains("classification")) {
      return InvalidArgument(what + ": the classification extension is not supported");
    }
    BW_ASSIGN_OR_RETURN(
        auto shm, SharedMemoryParameters(o.parameters(), what, targets ? shared_memory : nullptr));
    if (shm) {
      BW_ASSIGN_OR_RETURN((*targets)[o.name()], shared_memory->Find(*shm, what));
    }
    out.requested_outputs.push_back(o.name());
  }
  return Status::Ok();
}

InferParameter StringParameter(const std::string& v) {
  InferParameter p;
  p.set_string_param(v);
  return p;
}

InferParameter BoolParameter(bool v) {
  InferParameter p;
  p.set_bool_param(v);
  return p;
}

}  // namespace

Result<InferRequest> DecodeGrpcInferRequest(ModelInferRequest& request,
                                            const SharedMemoryRegistry* shared_memory,
                                            SharedMemoryOutputs* shared_memory_outputs) {
  InferRequest out;
  out.id = request.id();
  if (request.parameters().contains("shared_memory_region")) {
    return InvalidArgument("request: shared-memory parameters belong to an input or an output");
  }
  BW_RETURN_IF_ERROR(DecodeTimeout(request.parameters(), out));
  std::shared_ptr<RawContents> raw;
  if (request.raw_input_contents_size() > 0) {
    if (request.raw_input_contents_size() != request.inputs_size()) {
      return InvalidArgument(
          "raw_input_contents has " + std::to_string(request.raw_input_contents_size()) +
          " entries for " + std::to_string(request.inputs_size()) + " inputs (one each, in order)");
    }
    raw = std::make_shared<RawContents>();
    raw->Swap(request.mutable_raw_input_contents());  // moved, not copied
  }
  for (int i = 0; i < request.inputs_size(); ++i) {
    BW_ASSIGN_OR_RETURN(NamedTensor t, DecodeInput(request.inputs(i), i, raw, shared_memory));
    out.inputs.push_back(std::move(t));
  }
  BW_RETURN_IF_ERROR(DecodeOutputs(request, out, shared_memory, shared_memory_outputs));
  return out;
}

Status EncodeGrpcInferResponse(const InferResponse& response, inference::ModelInferResponse& out,
                               const SharedMemoryOutputs* shared_memory) {
  std::map<std::string, uint64_t> in_shared_memory;
  if (shared_memory != nullptr && !shared_memory->empty()) {
    BW_ASSIGN_OR_RETURN(in_shared_memory,
                        WriteSharedMemoryOutputs(response.outputs, *shared_memory));
  }
  out.set_model_name(response.model);
  out.set_model_version(std::to_string(response.model_version));
  out.set_id(response.id);
  (*out.mutable_parameters())["processor"] = StringParameter(response.processor);
  (*out.mutable_parameters())["simulated"] = BoolParameter(response.simulated);
  for (const NamedTensor& o : response.outputs) {
    BW_RETURN_IF_ERROR(o.tensor.Validate().WithContext("output '" + o.name + "'"));
    auto* t = out.add_outputs();
    t->set_name(o.name);
    t->set_datatype(std::string(DataTypeName(o.tensor.dtype())));
    for (int64_t d : o.tensor.shape()) t->add_shape(d);
    if (auto shm = in_shared_memory.find(o.name); shm != in_shared_memory.end()) {
      auto& p = *t->mutable_parameters();
      p["shared_memory_region"] = StringParameter(shared_memory->at(o.name).region);
      p["shared_memory_byte_size"].set_int64_param(static_cast<int64_t>(shm->second));
      out.add_raw_output_contents();
      continue;
    }
    out.add_raw_output_contents(reinterpret_cast<const char*>(o.tensor.data()),
                                o.tensor.byte_size());
  }
  return Status::Ok();
}

}  // namespace batchwise::kserve
