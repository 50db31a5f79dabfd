// Every reference model through every engine that loads it, against PyTorch's saved outputs.
//
// Tolerance: max |engine - pytorch| <= 1e-3 * max(1, max |reference|). Both sides compute in
// float32, but with different kernels and summation orders (OpenCV's own convolutions, oneDNN,
// conv+BatchNorm folding when the TorchScript module is frozen), which moves results by about
// 1e-5 of the output scale after 50 layers; a wrong layer, weight or layout moves them by the
// order of the scale itself, so 1e-3 separates the two with room to spare.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>

#include <gtest/gtest.h>

#include "backend/engine.h"
#include "backend/testing/model_repo.h"
#include "repository/reference.h"

namespace batchwise {
namespace {

using testing::LoadReferenceModel;
using testing::ReferenceModel;

Tensor FirstSamples(const Tensor& t, int64_t n) {
  Shape s = t.shape();
  size_t row = t.byte_size() / static_cast<size_t>(s[0]);
  s[0] = n;
  return Tensor::Borrow(t.dtype(), s, t.bytes().subspan(0, row * n));
}

// Compares `got` with the first `got.shape()[0]` samples of `ref` (tolerance: repository/reference.h).
void ExpectClose(const Tensor& got, const Tensor& ref, const std::string& what) {
  auto cmp = CompareToReference(got, FirstSamples(ref, got.shape()[0]));
  ASSERT_TRUE(cmp.ok()) << what << ": " << cmp.status();
  std::printf("  %s: max abs diff %.3g (tolerance %.3g)\n", what.c_str(), cmp->max_abs_diff,
              cmp->tolerance);
  EXPECT_TRUE(cmp->ok()) << what << ": max abs diff " << cmp->max_abs_diff;
}

using Param = std::tuple<std::string, EngineKind>;

class EngineCorrectnessTest : public ::testing::TestWithParam<Param> {};

TEST_P(EngineCorrectnessTest, MatchesPyTorchReferenceAtBatchTwoAndOne) {
  auto [name, kind] = GetParam();
  Result<ReferenceModel> model = LoadReferenceModel(name);
  if (!model.ok()) GTEST_SKIP() << testing::NoModelsMessage(model.status());
  auto engine = CreateEngine(kind, model->Options(kind));
  ASSERT_TRUE(engine.ok()) << engine.status();
  for (int64_t batch : {int64_t{2}, int64_t{1}}) {
    std::vector<Tensor> in;
    for (const Tensor& t : model->ref_inputs) in.push_back(FirstSamples(t, batch));
    auto out = (*engine)->Run(in);
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), model->ref_outputs.size());
    for (size_t i = 0; i < out->size(); ++i) {
      EXPECT_EQ((*out)[i].shape(), FirstSamples(model->ref_outputs[i], batch).shape());
      ExpectClose((*out)[i], model->ref_outputs[i],
                  (*engine)->Describe() + " batch " + std::to_string(batch));
    }
  }
  EXPECT_GT((*engine)->memory_footprint_bytes(), 0u);
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return std::get<0>(info.param) + "_" + std::string(EngineKindName(std::get<1>(info.param)));
}

INSTANTIATE_TEST_SUITE_P(
    ReferenceModels, EngineCorrectnessTest,
    ::testing::Combine(::testing::Values("resnet50", "resnet18", "mobilenet_v2", "mlp_forecaster"),
                       ::testing::Values(EngineKind::kOnnx, EngineKind::kTorchScript)),
    ParamName);

// Detectors are scripted TorchScript only (docs/detection.md); their INT32 labels and counts must
// be equal, boxes and scores within the tolerance above.
INSTANTIATE_TEST_SUITE_P(Detectors, EngineCorrectnessTest,
                         ::testing::Combine(::testing::Values("ssdlite320", "fasterrcnn320"),
                                            ::testing::Values(EngineKind::kTorchScript)),
                         ParamName);

}  // namespace
}  // namespace batchwise
