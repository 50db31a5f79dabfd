#include "common/tensor.h"

#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace batchwise {
namespace {

Tensor Floats(Shape shape, std::vector<float> v) { return Tensor::FromFloats(std::move(shape), v); }

// Serializes strings as the binary extension does: 4-byte little-endian length + bytes.
std::string BytesElements(const std::vector<std::string>& elems) {
  std::string out;
  for (const auto& e : elems) {
    uint32_t n = static_cast<uint32_t>(e.size());
    out.append(reinterpret_cast<const char*>(&n), 4);
    out += e;
  }
  return out;
}

Tensor BytesTensor(Shape shape, const std::string& raw) {
  return Tensor::CopyOf(DataType::kBytes, std::move(shape),
                        std::as_bytes(std::span<const char>(raw.data(), raw.size())));
}

TEST(DataTypeTest, NamesRoundTripForEveryType) {
  for (int i = 0; i <= static_cast<int>(DataType::kBytes); ++i) {
    auto t = static_cast<DataType>(i);
    auto parsed = ParseDataType(DataTypeName(t));
    ASSERT_TRUE(parsed.ok()) << DataTypeName(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(DataTypeSize(DataType::kFp16), 2u);
  EXPECT_EQ(DataTypeSize(DataType::kInt64), 8u);
  EXPECT_EQ(DataTypeSize(DataType::kBytes), 0u);
  EXPECT_EQ(ParseDataType("FLOAT32").status().code(), StatusCode::kInvalidArgument);
}

TEST(TensorTest, ValidateRejectsSizeMismatch) {
  auto t = Tensor::CopyOf(DataType::kFp32, {2, 3}, std::vector<std::byte>(20));
  Status s = t.Validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("needs 24 bytes, got 20"), std::string::npos) << s;
  EXPECT_TRUE(Floats({2, 2}, {1, 2, 3, 4}).Validate().ok());
  EXPECT_FALSE(Tensor::Allocate(DataType::kFp32, {2, -1}).Validate().ok());
}

TEST(TensorTest, BorrowDoesNotCopyAndKeepsOwnerAlive) {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3});
  auto bytes = std::as_bytes(std::span<const float>(*owner));
  Tensor t = Tensor::Borrow(DataType::kFp32, {3}, bytes, owner);
  EXPECT_EQ(t.data(), bytes.data());
  EXPECT_FALSE(t.owns_storage());
  std::weak_ptr<std::vector<float>> weak = owner;
  owner.reset();
  EXPECT_FALSE(weak.expired());  // the tensor holds it
  EXPECT_EQ(t.as<float>()[2], 3.0f);
}

TEST(TensorTest, ConcatOfOnePartIsTheSameStorage) {
  Tensor a = Floats({1, 2}, {1, 2});
  auto batch = ConcatBatch(std::span<const Tensor>(&a, 1));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->data(), a.data());
}

TEST(TensorTest, ConcatJoinsAlongFirstDimension) {
  std::vector<Tensor> parts = {Floats({1, 2}, {1, 2}), Floats({2, 2}, {3, 4, 5, 6})};
  auto batch = ConcatBatch(parts);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->shape(), (Shape{3, 2}));
  auto v = batch->as<float>();
  EXPECT_EQ(std::vector<float>(v.begin(), v.end()), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(TensorTest, ConcatRejectsMismatchedDtypeOrShape) {
  std::vector<Tensor> shapes = {Floats({1, 2}, {1, 2}), Floats({1, 3}, {1, 2, 3})};
  EXPECT_EQ(ConcatBatch(shapes).status().code(), StatusCode::kInvalidArgument);
  std::vector<Tensor> types = {Floats({1}, {1}), Tensor::Allocate(DataType::kInt32, {1})};
  EXPECT_EQ(ConcatBatch(types).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(ConcatBatch({}).ok());
}

TEST(TensorTest, SplitBorrowsFromTheBatch) {
  Tensor batch = Floats({3, 2}, {1, 2, 3, 4, 5, 6});
  std::vector<int64_t> sizes = {2, 1};
  auto pieces = SplitBatch(batch, sizes);
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  ASSERT_EQ(pieces->size(), 2u);
  EXPECT_EQ((*pieces)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ((*pieces)[1].shape(), (Shape{1, 2}));
  EXPECT_EQ((*pieces)[0].data(), batch.data());
  EXPECT_EQ((*pieces)[1].data(), batch.data() + 16);
  EXPECT_EQ((*pieces)[1].as<float>()[1], 6.0f);
}

TEST(TensorTest, SplitRejectsSizesThatDoNotSum) {
  Tensor batch = Floats({3}, {1, 2, 3});
  std::vector<int64_t> sizes = {1, 1};
  EXPECT_EQ(SplitBatch(batch, sizes).status().code(), StatusCode::kInvalidArgument);
}

TEST(TensorTest, BytesConcatAndSplitRoundTrip) {
  Tensor a = BytesTensor({1, 2}, BytesElements({"ab", ""}));
  Tensor b = BytesTensor({2, 2}, BytesElements({"c", "defg", "h", "ij"}));
  ASSERT_TRUE(a.Validate().ok());
  std::vector<Tensor> parts = {a, b};
  auto batch = ConcatBatch(parts);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->shape(), (Shape{3, 2}));
  ASSERT_TRUE(batch->Validate().ok()) << batch->Validate();
  std::vector<int64_t> sizes = {1, 2};
  auto pieces = SplitBatch(*batch, sizes);
  ASSERT_TRUE(pieces.ok()) << pieces.status();
  auto same = [](const Tensor& x, const Tensor& y) {
    return x.byte_size() == y.byte_size() && std::memcmp(x.data(), y.data(), x.byte_size()) == 0;
  };
  EXPECT_TRUE(same((*pieces)[0], a));
  EXPECT_TRUE(same((*pieces)[1], b));
}

TEST(TensorTest, BytesValidateCatchesTruncatedElementAndWrongCount) {
  std::string raw = BytesElements({"hello"});
  EXPECT_FALSE(BytesTensor({1}, raw.substr(0, raw.size() - 1)).Validate().ok());
  EXPECT_FALSE(BytesTensor({1}, raw.substr(0, 3)).Validate().ok());
  EXPECT_FALSE(BytesTensor({2}, raw).Validate().ok());
  EXPECT_TRUE(BytesTensor({1}, raw).Validate().ok());
}

TEST(TensorTest, ReshapedKeepsStorageAndChecksCount) {
  Tensor t = Floats({2, 3}, {1, 2, 3, 4, 5, 6});
  auto r = t.Reshaped({3, 2});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data(), t.data());
  EXPECT_FALSE(t.Reshaped({4, 2}).ok());
}

}  // namespace
}  // namespace batchwise
