#include "repository/reference.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

namespace batchwise {
namespace {

Result<Tensor> ReadTensor(const std::filesystem::path& folder, const nlohmann::json& j) {
  std::filesystem::path file = folder / j.at("file").get<std::string>();
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFound("cannot open reference tensor " + file.string());
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  BW_ASSIGN_OR_RETURN(DataType dtype, ParseDataType(j.at("datatype").get<std::string>()));
  Tensor t = Tensor::CopyOf(dtype, j.at("shape").get<Shape>(),
                            std::as_bytes(std::span<const char>(bytes)));
  BW_RETURN_IF_ERROR(t.Validate().WithContext(file.string()));
  return t;
}

Result<std::vector<Tensor>> ReadTensors(const std::filesystem::path& folder,
                                        const nlohmann::json& list) {
  std::vector<Tensor> out;
  for (const auto& j : list) {
    BW_ASSIGN_OR_RETURN(Tensor t, ReadTensor(folder, j));
    out.push_back(std::move(t));
  }
  return out;
}

// Integer outputs (labels, counts) must be equal: tolerance 0.
template <typename T>
ReferenceComparison CompareExactly(const Tensor& out, const Tensor& ref) {
  auto a = out.as<T>();
  auto b = ref.as<T>();
  ReferenceComparison c;
  for (size_t i = 0; i < b.size(); ++i) {
    c.max_abs_diff = std::max(c.max_abs_diff, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return c;
}

}  // namespace

Result<ReferenceTensors> LoadReferenceTensors(const std::string& folder) {
  std::string path = folder + "/reference.json";
  std::ifstream in(path);
  if (!in) return NotFound("no reference tensors at " + path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument(path + ": not valid JSON");
  try {
    ReferenceTensors r;
    BW_ASSIGN_OR_RETURN(r.inputs, ReadTensors(folder, j.at("inputs")));
    BW_ASSIGN_OR_RETURN(r.outputs, ReadTensors(folder, j.at("outputs")));
    r.computed_by = j.value("computed_by", "");
    return r;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(path + ": " + e.what());
  }
}

Result<ReferenceComparison> CompareToReference(const Tensor& out, const Tensor& ref,
                                               double relative) {
  if (out.dtype() != ref.dtype()) {
    return InvalidArgument("output datatype " + std::string(DataTypeName(out.dtype())) +
                           " differs from reference " + std::string(DataTypeName(ref.dtype())));
  }
  if (out.shape() != ref.shape()) {
    return InvalidArgument("output shape " + ShapeToString(out.shape()) + " differs from reference " +
                           ShapeToString(ref.shape()));
  }
  if (out.dtype() == DataType::kInt32) return CompareExactly<int32_t>(out, ref);
  if (out.dtype() == DataType::kInt64) return CompareExactly<int64_t>(out, ref);
  if (out.dtype() != DataType::kFp32) {
    return InvalidArgument("reference comparison needs FP32, INT32 or INT64 tensors");
  }
  auto a = out.as<float>();
  auto b = ref.as<float>();
  ReferenceComparison c;
  double scale = 1;
  for (size_t i = 0; i < b.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
    double d = std::abs(static_cast<double>(a[i]) - b[i]);
    c.max_abs_diff = std::isnan(d) ? INFINITY : std::max(c.max_abs_diff, d);
  }
  c.tolerance = relative * scale;
  return c;
}

}  // namespace batchwise
