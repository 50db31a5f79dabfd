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

TEST(LoadReferenceTensorsTest, MissingFolderIsNotFound) {
  EXPECT_EQ(LoadReferenceTensors("/nonexistent").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace batchwise
