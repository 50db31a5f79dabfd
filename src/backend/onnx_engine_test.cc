// The ONNX engine is OpenCV's DNN module: a model with an operator OpenCV DNN lacks is refused at
// load with an error that says OpenCV DNN cannot load it (docs/model-repository.md, "ONNX
// operators OpenCV DNN runs"), not that the model does not match its config. The models are
// written here, byte by byte, as the smallest ONNX files that differ only in their operator.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/engine.h"

namespace batchwise {
namespace {

// Protocol-buffer wire format, the three kinds of field an ONNX model needs.
std::string Varint(uint64_t v) {
  std::string out;
  do {
    out += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
  return out;
}
std::string IntField(int field, uint64_t v) { return Varint(field << 3) + Varint(v); }
std::string BytesField(int field, const std::string& bytes) {
  return Varint((field << 3) | 2) + Varint(bytes.size()) + bytes;
}

// ValueInfoProto: a FLOAT tensor of shape [1, 4].
std::string FloatTensor1x4(const std::string& name) {
  const std::string dims = BytesField(1, IntField(1, 1)) + BytesField(1, IntField(1, 4));
  const std::string tensor_type = IntField(1, /*FLOAT*/ 1) + BytesField(2, dims);
  return BytesField(1, name) + BytesField(2, BytesField(1, tensor_type));
}

// ModelProto: y = op(x), x and y FLOAT [1, 4], opset `opset` of the default domain.
std::string OneOperatorModel(const std::string& op, int opset) {
  const std::string node = BytesField(1, "x") + BytesField(2, "y") + BytesField(3, "n") +
                           BytesField(4, op);
  const std::string graph = BytesField(1, node) + BytesField(2, "g") +
                            BytesField(11, FloatTensor1x4("x")) +
                            BytesField(12, FloatTensor1x4("y"));
  const std::string opset_id = BytesField(1, "") + IntField(2, opset);
  return IntField(1, /*ir_version*/ 8) + BytesField(7, graph) + BytesField(8, opset_id);
}

class OnnxEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bw_onnx_engine_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<std::unique_ptr<Engine>> Load(const std::string& op, int opset) {
    EngineOptions o;
    o.model_path = (dir_ / (op + ".onnx")).string();
    std::ofstream(o.model_path, std::ios::binary) << OneOperatorModel(op, opset);
    o.target.num_threads = 1;
    o.inputs = {{"x", DataType::kFp32, {-1, 4}}};
    o.outputs = {{"y", DataType::kFp32, {-1, 4}}};
    return CreateEngine(EngineKind::kOnnx, o);
  }

  std::filesystem::path dir_;
};

TEST_F(OnnxEngineTest, AnOperatorOpenCvDnnLacksIsRefusedSayingOpenCvDnnCannotLoadIt) {
  // The same file with an operator OpenCV DNN has loads and runs: the file is a valid model.
  auto relu = Load("Relu", 13);
  ASSERT_TRUE(relu.ok()) << relu.status();
  const std::vector<float> values = {-1, 2, -3, 4};
  Tensor x = Tensor::FromFloats({1, 4}, values);
  auto y = (*relu)->Run({&x, 1});
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_EQ((*y)[0].shape(), (Shape{1, 4}));
  const float* out = reinterpret_cast<const float*>((*y)[0].data());
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{0, 2, 0, 4}));

  // Gelu (opset 20) is not in OpenCV 4.6's importer (docs/model-repository.md lists it).
  auto gelu = Load("Gelu", 20);
  ASSERT_FALSE(gelu.ok());
  const std::string& m = gelu.status().message();
  EXPECT_EQ(gelu.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(m.find("OpenCV DNN"), std::string::npos) << m;
  EXPECT_NE(m.find("cannot load ONNX model " + (dir_ / "Gelu.onnx").string()), std::string::npos)
      << m;
  EXPECT_NE(m.find("Gelu"), std::string::npos) << m;  // OpenCV's own reason names the operator
  EXPECT_NE(m.find("docs/model-repository.md"), std::string::npos) << m;
  EXPECT_EQ(m.find("does not match its config"), std::string::npos) << m;
}

}  // namespace
}  // namespace batchwise
