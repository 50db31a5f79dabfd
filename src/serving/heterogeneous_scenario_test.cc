// The heterogeneous scenario of issue 4: two CPU partitions (scripted readings), a simulated A100
// (published ResNet-50 table) and a simulated NPU (T4 figures), four models. Placement puts each
// where it belongs and does not pile everything onto the fastest processor.
#include <gtest/gtest.h>

#include "device/simulated.h"
#include "serving/scheduler.h"
#include "serving/testing/scheduler_harness.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: the harness

std::vector<Processor> ScenarioProcessors() {
  std::vector<Processor> out = {CpuProcessor("cpu:0", {0}), CpuProcessor("cpu:1", {1})};
  auto sim = LoadSimulatedProcessors(std::string(BATCHWISE_SOURCE_DIR) +
                                     "/data/processors/simulated.json");
  EXPECT_TRUE(sim.ok()) << sim.status();
  for (auto& p : *sim) out.push_back(std::move(p));
  return out;
}

const CandidateScore& Candidate(const PlacementDecision& d, const std::string& id) {
  for (const auto& c : d.candidates) {
    if (c.processor_id == id) return c;
  }
  ADD_FAILURE() << "no candidate " << id;
  return d.candidates.front();
}

struct ScenarioModel {
  const char* name;
  double rate_per_s;  // expected load, reference-model samples/s
};
constexpr ScenarioModel kModels[] = {
    {"resnet50", 400}, {"resnet18", 300}, {"mobilenet_v2", 200}, {"mlp_forecaster", 50}};

class HeterogeneousScenarioTest : public ::testing::Test {
 protected:
  HeterogeneousScenarioTest()
      : h(ScenarioProcessors(),
          {{"cpu:0", TableWithPerformance(60)}, {"cpu:1", TableWithPerformance(60)}}) {
    h.Set("cpu:0", Load(0.30, 6));  // another tenant keeps cpu:0 busier
    h.Set("cpu:1", Load(0.05, 6));
  }
  void LoadAll() {
    for (const auto& m : kModels) {
      LoadOptions o;
      o.expected_rate_per_s = m.rate_per_s;
      o.memory_bytes = 1 * kGiB;
      ASSERT_TRUE(h.scheduler->LoadModel(TinyModel(m.name), o).ok()) << m.name;
    }
  }
  std::string Where(const std::string& model) {
    return h.scheduler->Instances(model).at(0).processor;
  }
  double P(const std::string& id) {
    for (const auto& v : h.scheduler->ProcessorViews()) {
      if (v.id == id) return v.performance;
    }
    return 0;
  }

  Harness h;
};

TEST_F(HeterogeneousScenarioTest, EachModelGoesWhereItBelongs) {
  LoadAll();
  EXPECT_EQ(Where("resnet50"), "sim:a100");
  EXPECT_EQ(Where("resnet18"), "sim:npu0");
  EXPECT_EQ(Where("mobilenet_v2"), "cpu:1");
  EXPECT_EQ(Where("mlp_forecaster"), "cpu:0");
  for (const auto& i : h.scheduler->Instances()) {
    EXPECT_EQ(i.simulated, i.processor.starts_with("sim:")) << i.processor;
  }
}

TEST_F(HeterogeneousScenarioTest, TheNumbersBehindTheFirstDecision) {
  LoadAll();
  const PlacementDecision d = h.scheduler->Decisions("resnet50").at(0);
  const double pmax = P("sim:a100");
  EXPECT_NEAR(pmax, 2857.6, 1e-6);  // published A100 best, batch 32
  EXPECT_NEAR(d.max_performance, pmax, 1e-9);
  // workload = 0.5 u + 0.2 m + 0.3 (1 - P/Pmax), each processor scored as it would be with the
  // model's expected 400 samples/s booked (u + 400/P, at most 1: the look-ahead of Placer::Place).
  EXPECT_NEAR(Candidate(d, "sim:a100").workload, 0.5 * 400 / pmax, 1e-9);
  EXPECT_NEAR(Candidate(d, "sim:npu0").workload,
              0.5 * 400 / P("sim:npu0") + 0.3 * (1 - P("sim:npu0") / pmax), 1e-9);
  // 400/s is more than a 60/s core: u after is 1 on either.
  EXPECT_NEAR(Candidate(d, "cpu:0").workload, 0.5 * 1 + 0.2 * 6 / 16 + 0.3 * (1 - 60 / pmax),
              1e-9);
  EXPECT_NEAR(Candidate(d, "cpu:1").workload, 0.5 * 1 + 0.2 * 6 / 16 + 0.3 * (1 - 60 / pmax),
              1e-9);
  EXPECT_FALSE(Candidate(d, "cpu:0").fits);
  EXPECT_TRUE(Candidate(d, "sim:a100").fits);
}

TEST_F(HeterogeneousScenarioTest, DoesNotPileOntoTheFastestProcessor) {
  LoadAll();
  int on_a100 = 0;
  for (const auto& i : h.scheduler->Instances()) on_a100 += i.processor == "sim:a100";
  EXPECT_EQ(on_a100, 1);
  // Later models see the A100 full (its published table is single-instance) and say so.
  const PlacementDecision d = h.scheduler->Decisions("resnet18").at(0);
  EXPECT_EQ(Candidate(d, "sim:a100").excluded,
            "already runs 1 instance(s), the most instances its simulated table finds useful (1)");
  // The first model's expected load is booked on the A100 until the monitor sees it (the
  // candidate shows it with this model's 300/s on top: the look-ahead).
  EXPECT_NEAR(Candidate(d, "sim:a100").utilization, (400 + 300) / P("sim:a100"), 1e-9);
}

TEST_F(HeterogeneousScenarioTest, AnNpuOnlyModelWaitsForTheNpu) {
  LoadAll();
  ModelConfig npu_only = TinyModel("npu_only");
  npu_only.processor_kinds = {"npu"};
  Status s = h.scheduler->LoadModel(npu_only);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s;
  const PlacementDecision d = h.scheduler->Decisions("npu_only").at(0);
  EXPECT_EQ(Candidate(d, "cpu:0").excluded, "model config does not allow processor kind 'cpu'");
  EXPECT_EQ(Candidate(d, "sim:a100").excluded, "model config does not allow processor kind 'gpu'");
  EXPECT_EQ(Candidate(d, "sim:npu0").excluded,
            "already runs 1 instance(s), the most instances its simulated table finds useful (1)");
  ASSERT_TRUE(h.scheduler->UnloadModel("resnet18").ok());
  ASSERT_TRUE(h.scheduler->LoadModel(npu_only).ok());
  EXPECT_EQ(Where("npu_only"), "sim:npu0");
}

TEST_F(HeterogeneousScenarioTest, SimulatedProcessorsReportTheirMemory) {
  LoadAll();
  for (const auto& v : h.scheduler->ProcessorViews()) {
    if (v.id == "sim:a100") EXPECT_NEAR(v.memory_utilization, 1.0 / 80, 1e-9);
  }
}

}  // namespace
}  // namespace batchwise
