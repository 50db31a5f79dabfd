#include "common/bytes_tensor.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(BytesTensorTest, ElementsRoundTripInOrder) {
  const std::vector<std::string> in = {"cat", "", std::string("\0x\xff", 3)};
  Tensor t = MakeBytesTensor({3}, in);
  EXPECT_EQ(t.dtype(), DataType::kBytes);
  EXPECT_EQ(t.byte_size(), 3 * 4 + 3 + 0 + 3u);
  EXPECT_TRUE(t.Validate().ok());
  auto out = BytesElements(t);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(std::vector<std::string>(out->begin(), out->end()), in);
}

TEST(BytesTensorTest, RejectsMalformedTensors) {
  EXPECT_FALSE(BytesElements(Tensor::Allocate(DataType::kUint8, {4})).ok());
  Tensor t = MakeBytesTensor({1}, {"hello"});
  auto cut = BytesElements(Tensor::Borrow(DataType::kBytes, {1}, t.bytes().subspan(0, 6)));
  EXPECT_NE(cut.status().message().find("runs past the end"), std::string::npos) << cut.status();
  EXPECT_FALSE(BytesElements(MakeBytesTensor({2}, {"one"})).ok());  // shape says 2 elements
}

}  // namespace
}  // namespace batchwise
