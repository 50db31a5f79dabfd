// The one client-tensor validation both protocol decoders call: limits with overflow-checked
// arithmetic and datatype ranges.
#include "common/client_tensor.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace batchwise {
namespace {

void ExpectRefused(const Shape& shape, const std::string& says) {
  auto r = CheckClientShape(shape, "input 'x'");
  ASSERT_FALSE(r.ok()) << ShapeToString(shape);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("input 'x'"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find(says), std::string::npos) << r.status();
}

TEST(ClientTensorTest, ShapesWithinTheLimitsGiveTheirElementCount) {
  EXPECT_EQ(*CheckClientShape({}, "x"), 1);
  EXPECT_EQ(*CheckClientShape({2, 3, 4}, "x"), 24);
  EXPECT_EQ(*CheckClientShape({0, kMaxClientElements}, "x"), 0);
  EXPECT_EQ(*CheckClientShape({kMaxClientElements}, "x"), kMaxClientElements);
  EXPECT_EQ(*CheckClientShape(Shape(kMaxClientRank, 1), "x"), 1);
}

TEST(ClientTensorTest, ShapesBeyondTheLimitsAreRefusedNeverWrapped) {
  ExpectRefused({1, -1}, "negative");
  ExpectRefused(Shape(kMaxClientRank + 1, 1), "dimensions");
  ExpectRefused({kMaxClientElements + 1}, "elements");
  ExpectRefused({int64_t{1} << 20, int64_t{1} << 21}, "elements");
  // The hostile-input probe's shape: its product wraps int64 to 1 309 753.
  ExpectRefused({1, 4011275626538389761, 53523, 3}, "elements");
  ExpectRefused({std::numeric_limits<int64_t>::max(), 2}, "elements");
  // A zero dimension does not let a later one past the per-dimension cap.
  ExpectRefused({0, kMaxClientElements + 1}, "elements");
}

TEST(ClientTensorTest, ElementCountAndValidateDoNotWrap) {
  const Shape wrapping = {1, 4011275626538389761, 53523, 3};
  EXPECT_EQ(ElementCount(wrapping), -1);
  std::vector<std::byte> buffer(1309753);
  EXPECT_FALSE(Tensor::Borrow(DataType::kUint8, wrapping, buffer).Validate().ok());
  EXPECT_FALSE(CheckClientTensor(Tensor::Borrow(DataType::kUint8, wrapping, buffer), "x").ok());
  // 2^61 FP64 elements: the count fits int64, the byte size does not fit size_t.
  EXPECT_FALSE(Tensor::Borrow(DataType::kFp64, {int64_t{1} << 61}, buffer).Validate().ok());
  EXPECT_TRUE(CheckClientTensor(Tensor::Allocate(DataType::kFp32, {2, 3}), "x").ok());
  Status short_buffer =
      CheckClientTensor(Tensor::Borrow(DataType::kFp32, {2, 3}, std::span(buffer).first(20)), "x");
  EXPECT_EQ(short_buffer.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(short_buffer.message().find("needs 24 bytes, got 20"), std::string::npos)
      << short_buffer;
}

TEST(ClientTensorTest, ValuesMustFitTheirDatatype) {
  EXPECT_TRUE(IntegerFits(DataType::kInt8, -128));
  EXPECT_FALSE(IntegerFits(DataType::kInt8, 128));
  EXPECT_FALSE(IntegerFits(DataType::kUint8, -1));
  EXPECT_TRUE(UnsignedFits(DataType::kUint16, 65535));
  EXPECT_FALSE(UnsignedFits(DataType::kUint16, 65536));
  EXPECT_TRUE(UnsignedFits(DataType::kUint64, std::numeric_limits<uint64_t>::max()));
  EXPECT_FALSE(UnsignedFits(DataType::kInt64, uint64_t{1} << 63));
  EXPECT_TRUE(UnsignedFits(DataType::kBool, 1));
  EXPECT_FALSE(UnsignedFits(DataType::kBool, 2));
  EXPECT_FALSE(IntegerFits(DataType::kBytes, 0));
  EXPECT_TRUE(IntegerFits(DataType::kFp32, 7));

  EXPECT_TRUE(FloatFits(DataType::kFp32, 3.4028235e38));  // FLT_MAX as printed with 8 digits
  EXPECT_FALSE(FloatFits(DataType::kFp32, 1e39));
  EXPECT_FALSE(FloatFits(DataType::kFp32, -1e39));
  EXPECT_TRUE(FloatFits(DataType::kFp64, 1e300));
  EXPECT_FALSE(FloatFits(DataType::kFp64, std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(FloatFits(DataType::kFp64, std::numeric_limits<double>::quiet_NaN()));
  EXPECT_TRUE(FloatFits(DataType::kFp16, 65504));
  EXPECT_FALSE(FloatFits(DataType::kFp16, 70000));
  EXPECT_FALSE(FloatFits(DataType::kInt32, 1.0));
}

}  // namespace
}  // namespace batchwise
