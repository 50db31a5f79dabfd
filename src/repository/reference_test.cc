#include "repository/reference.h"

#include <cmath>

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(CompareToReferenceTest, ToleranceScalesWithTheOutputs) {
  Tensor ref = Tensor::FromFloats({1, 3}, std::vector<float>{0.5f, -4.0f, 2.0f});
  Tensor close = Tensor::FromFloats({1, 3}, std::vector<float>{0.5f, -4.003f, 2.0f});
  Tensor far = Tensor::FromFloats({1, 3}, std::vector<float>{0.5f, -4.0f, 2.01f});
  auto c = CompareToReference(close, ref);
  ASSERT_TRUE(c.ok());
  EXPECT_DOUBLE_EQ(c->tolerance, 4e-3);
  EXPECT_TRUE(c->ok()) << c->max_abs_diff;
  EXPECT_FALSE(CompareToReference(far, ref)->ok());
}

TEST(CompareToReferenceTest, NanNeverPassesAndShapesMustMatch) {
  Tensor ref = Tensor::FromFloats({2}, std::vector<float>{1, 2});
  Tensor nan = Tensor::FromFloats({2}, std::vector<float>{1, NAN});
  EXPECT_FALSE(CompareToReference(nan, ref)->ok());
  EXPECT_FALSE(CompareToReference(Tensor::FromFloats({1, 2}, std::vector<float>{1, 2}), ref).ok());
}

TEST(CompareToReferenceTest, IntegerOutputsMustBeEqual) {
  const std::vector<int32_t> labels = {3, 7, 0};
  const std::vector<int32_t> other = {3, 8, 0};
  auto tensor = [](const std::vector<int32_t>& v) {
    return Tensor::CopyOf(DataType::kInt32, {3}, std::as_bytes(std::span<const int32_t>(v)));
  };
  auto same = CompareToReference(tensor(labels), tensor(labels));
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_TRUE(same->ok());
  EXPECT_EQ(same->tolerance, 0);
  auto off_by_one = CompareToReference(tensor(other), tensor(labels));
  ASSERT_TRUE(off_by_one.ok());
  EXPECT_FALSE(off_by_one->ok());
  EXPECT_EQ(off_by_one->max_abs_diff, 1);
  Tensor floats = Tensor::FromFloats({3}, std::vector<float>{3, 7, 0});
  EXPECT_FALSE(CompareToReference(floats, tensor(labels)).ok());  // datatypes differ
}

TEST(LoadReferenceTensorsTest, MissingFolderIsNotFound) {
  EXPECT_EQ(LoadReferenceTensors("/nonexistent").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace batchwise
