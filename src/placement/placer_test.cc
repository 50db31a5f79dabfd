#include "placement/placer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "placement/processor_view.h"

namespace batchwise {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

ProcessorView Proc(std::string id, std::string kind, double u, double m, double perf,
                   std::vector<std::string> engines = {"onnx", "torchscript"}) {
  ProcessorView p;
  p.id = std::move(id);
  p.kind = std::move(kind);
  p.utilization = u;
  p.memory_utilization = m;
  p.memory_free_bytes = 8 * kGiB;
  p.performance = perf;
  p.max_instances = 4;
  p.engines = std::move(engines);
  return p;
}

ModelRequirements Model(uint64_t bytes = 100 << 20) {
  ModelRequirements m;
  m.name = "resnet18";
  m.memory_bytes = bytes;
  m.engines = {"torchscript", "onnx", "simulated"};
  return m;
}

class PlacerTest : public ::testing::Test {
 protected:
  void SetUp() override { placer_ = std::move(Placer::Create({}, &clock_).value()); }
  FakeClock clock_;
  std::unique_ptr<Placer> placer_;
};

TEST(WorkloadTest, FollowsTheDesignFormula) {
  WorkloadWeights w{0.5, 0.2, 0.3};
  ProcessorView p = Proc("cpu:0", "cpu", 0.4, 0.5, 25);
  EXPECT_DOUBLE_EQ(Workload(p, 100, w), 0.5 * 0.4 + 0.2 * 0.5 + 0.3 * 0.75);
  p.reserved_utilization = 0.9;  // promised load counts until it shows up in u
  EXPECT_DOUBLE_EQ(Workload(p, 100, w), 0.5 * 0.9 + 0.2 * 0.5 + 0.3 * 0.75);
  EXPECT_DOUBLE_EQ(Workload(Proc("gpu", "gpu", 0, 0, 100), 100, w), 0.0);
}

TEST_F(PlacerTest, PicksTheLeastWorkload) {
  std::vector<ProcessorView> ps = {Proc("cpu:0", "cpu", 0.9, 0.5, 40),
                                   Proc("cpu:1", "cpu", 0.1, 0.5, 40),
                                   Proc("sim:a100", "gpu", 0.95, 0.3, 2857, {"simulated"})};
  PlacementDecision d = placer_->Place(Model(), ps);
  EXPECT_EQ(d.chosen, "cpu:1");
  EXPECT_EQ(d.engine, "torchscript");
  ASSERT_EQ(d.candidates.size(), 3u);
  EXPECT_LT(d.candidates[1].workload, d.candidates[0].workload);
  EXPECT_LT(d.candidates[1].workload, d.candidates[2].workload);
}

TEST_F(PlacerTest, IdleFastProcessorWins) {
  std::vector<ProcessorView> ps = {Proc("cpu:0", "cpu", 0.0, 0.3, 40),
                                   Proc("sim:a100", "gpu", 0.0, 0.1, 2857, {"simulated"})};
  PlacementDecision d = placer_->Place(Model(), ps);
  EXPECT_EQ(d.chosen, "sim:a100");
  EXPECT_EQ(d.engine, "simulated");
}

TEST_F(PlacerTest, ExcludesAndExplainsEachReason) {
  std::vector<ProcessorView> ps = {Proc("full", "cpu", 0, 0, 40), Proc("maxed", "cpu", 0, 0, 40),
                                   Proc("npu", "npu", 0, 0, 40), Proc("noengine", "cpu", 0, 0, 40, {}),
                                   Proc("mine", "cpu", 0, 0, 40)};
  ps[0].memory_free_bytes = 10 << 20;
  ps[1].instances = 4;
  ModelRequirements m = Model();
  m.allowed_kinds = {"cpu", "gpu"};
  m.excluded_processors = {"mine"};
  PlacementDecision d = placer_->Place(m, ps);
  EXPECT_TRUE(d.chosen.empty());
  EXPECT_EQ(d.reason, "no processor can take the model");
  EXPECT_NE(d.candidates[0].excluded.find("cannot hold"), std::string::npos);
  EXPECT_EQ(d.candidates[1].excluded, "already runs 4 instance(s), its limit");
  EXPECT_NE(d.candidates[2].excluded.find("does not allow processor kind 'npu'"), std::string::npos);
  EXPECT_NE(d.candidates[3].excluded.find("no engine"), std::string::npos);
  EXPECT_EQ(d.candidates[4].excluded, "excluded for this model");
}

// A real GPU runs the TorchScript engine only in a CUDA build; elsewhere nothing runs on it, so a
// model is never placed there to fail at load.
TEST(ProcessorViewTest, ARealGpuIsACandidateOnlyInACudaBuild) {
  Processor gpu;
  gpu.id = "gpu:0";
  gpu.kind = ProcessorKind::kGpu;
#ifdef BATCHWISE_WITH_CUDA
  EXPECT_EQ(EnginesFor(gpu), std::vector<std::string>{"torchscript"});
#else
  EXPECT_TRUE(EnginesFor(gpu).empty());
#endif
  gpu.simulated = true;
  EXPECT_EQ(EnginesFor(gpu), std::vector<std::string>{"simulated"});
}

// The instance limit says where it comes from: the operator reads it in every refusal.
TEST(ProcessorViewTest, TheInstanceLimitNamesItsSource) {
  Processor cpu;
  cpu.id = "cpu:0";
  cpu.kind = ProcessorKind::kCpu;
  cpu.cores = {0, 1};
  ProcessorViewOptions o;
  o.unprofiled_max_instances = 4;
  ProcessorPerformance p = PerformanceOf(cpu, nullptr, o);
  EXPECT_EQ(p.max_instances, 2);
  EXPECT_EQ(p.max_instances_source, "one instance per core of a 2-core partition (2)");
  o.unprofiled_max_instances = 1;
  p = PerformanceOf(cpu, nullptr, o);
  EXPECT_EQ(p.max_instances, 1);
  EXPECT_EQ(p.max_instances_source, "the limit of a processor without a profile (1)");
}

TEST(ProcessorViewTest, CapacityPerInstanceCountComesFromTheTable) {
  auto table = std::make_shared<PerfTable>();
  table->cells = {{.batch_size = 8, .instances = 1, .throughput = 12.9},
                  {.batch_size = 8, .instances = 2, .throughput = 25.8},
                  {.batch_size = 8, .instances = 3, .throughput = 26}};  // not useful: +0.8 %
  Processor sim;
  sim.id = "sim:cpu2";
  sim.kind = ProcessorKind::kCpu;
  sim.simulated = true;
  sim.table = table;
  ProcessorPerformance perf = PerformanceOf(sim, nullptr, {});
  EXPECT_EQ(perf.max_instances, 2);
  EXPECT_EQ(perf.capacity_per_s, (std::vector<double>{12.9, 25.8}));
  EXPECT_EQ(MakeProcessorView(sim, nullptr, perf, {}).capacity_per_s, perf.capacity_per_s);
  EXPECT_TRUE(PerformanceOf(Processor{}, nullptr, {}).capacity_per_s.empty());  // fallback: P
}

TEST_F(PlacerTest, TiesAreBrokenDeterministically) {
  // Equal workload: the faster one; equal speed too: the smaller id, whatever the input order.
  std::vector<ProcessorView> ps = {Proc("cpu:1", "cpu", 0.2, 0.2, 40), Proc("cpu:0", "cpu", 0.2, 0.2, 40)};
  EXPECT_EQ(placer_->Place(Model(), ps).chosen, "cpu:0");
  std::swap(ps[0], ps[1]);
  EXPECT_EQ(placer_->Place(Model(), ps).chosen, "cpu:0");
}

TEST_F(PlacerTest, DecisionsAreRecordedAndQueryable) {
  std::vector<ProcessorView> ps = {Proc("cpu:0", "cpu", 0.2, 0.2, 40)};
  placer_->Place(Model(), ps);
  clock_.Advance(std::chrono::seconds(1));
  ModelRequirements other = Model();
  other.name = "mlp";
  placer_->Place(other, ps);
  ASSERT_EQ(placer_->Decisions().size(), 2u);
  auto mine = placer_->Decisions("mlp");
  ASSERT_EQ(mine.size(), 1u);
  nlohmann::json j = mine[0].ToJson();
  EXPECT_EQ(j["chosen"], "cpu:0");
  EXPECT_EQ(j["candidates"][0]["processor"], "cpu:0");
  EXPECT_GT(j["at_ns"].get<int64_t>(), placer_->Decisions()[0].ToJson()["at_ns"].get<int64_t>());
}

ModelRequirements WithRate(std::string name, double rate) {
  ModelRequirements m = Model(1ull << 30);
  m.name = std::move(name);
  m.engines = {"simulated"};
  m.expected_rate_per_s = rate;
  return m;
}

ProcessorView Gpu(std::string id, double perf, int max_instances, double reserved = 0) {
  ProcessorView p = Proc(std::move(id), "gpu", 0, 0, perf, {"simulated"});
  p.max_instances = max_instances;
  p.reserved_utilization = reserved;
  p.memory_free_bytes = 80 * kGiB;
  return p;
}

TEST_F(PlacerTest, LookAheadKeepsAModelWhereItsRateFits) {
  // The H200 already carries 3558/7547: now it scores worse than an idle V100, but the model's
  // 3321 samples/s fit only on the H200 (the V100 serves 2045).
  std::vector<ProcessorView> ps = {Gpu("sim:h200", 7547, 2, 3558.0 / 7547),
                                   Gpu("sim:v100", 2045, 1)};
  ps[0].instances = 1;
  EXPECT_EQ(placer_->Place(WithRate("m", 0), ps).chosen, "sim:v100");  // no rate: as it is now
  PlacementDecision d = placer_->Place(WithRate("m", 3321), ps);
  EXPECT_EQ(d.chosen, "sim:h200");
  EXPECT_TRUE(d.candidates[0].fits);
  EXPECT_FALSE(d.candidates[1].fits);
  EXPECT_NE(d.reason.find("after booking its expected 3321"), std::string::npos);
}

TEST_F(PlacerTest, LookAheadSendsAnOverflowToTheMostSpareCapacity) {
  // The H200 is saturated, so a model that fits nowhere goes where most of it is served (the
  // A100's 2858 spare), not to the fastest processor.
  std::vector<ProcessorView> ps = {Gpu("sim:h200", 7547, 2, 1.6), Gpu("sim:a100", 2858, 1),
                                   Gpu("sim:t4", 1280, 1)};
  ps[0].instances = 1;
  PlacementDecision d = placer_->Place(WithRate("m", 5638), ps);
  EXPECT_EQ(d.chosen, "sim:a100");
  EXPECT_DOUBLE_EQ(d.candidates[1].gain_per_s, 2858);
  EXPECT_NE(d.reason.find("most spare"), std::string::npos);
}

TEST_F(PlacerTest, PlanPlacesTheHeaviestFirstAndBooksEachChoice) {
  // One slot each: given light first, the heavy model still gets the A100. The plan reports the
  // choices in the given order and the decisions in placement order.
  std::vector<ProcessorView> ps = {Gpu("sim:a100", 2858, 1), Gpu("sim:t4", 1280, 1)};
  std::vector<ModelRequirements> models = {WithRate("light", 300), WithRate("heavy", 2500),
                                           WithRate("extra", 100)};
  PlacementPlan plan = placer_->PlanPlacement(models, ps);
  ASSERT_EQ(plan.chosen.size(), 3u);
  EXPECT_EQ(plan.chosen[0], "sim:t4");
  EXPECT_EQ(plan.chosen[1], "sim:a100");
  EXPECT_EQ(plan.chosen[2], "");  // both slots taken
  ASSERT_EQ(plan.decisions.size(), 3u);
  EXPECT_EQ(plan.decisions[0].model, "heavy");
  EXPECT_FALSE(plan.decisions[2].candidates[0].eligible());  // its one instance is booked
  EXPECT_EQ(placer_->Decisions().size(), 3u);
}

TEST_F(PlacerTest, PlanBooksRateAndMemoryOnSharedProcessors) {
  // Two instances fit on the fast processor; the second model's look-ahead sees the first's rate
  // and footprint there, so a third that would overload it goes to the idle slow one.
  std::vector<ProcessorView> ps = {Gpu("fast", 7000, 3), Gpu("slow", 2000, 3)};
  ps[0].memory_free_bytes = 3 * kGiB;
  std::vector<ModelRequirements> models = {WithRate("a", 4000), WithRate("b", 2500),
                                           WithRate("c", 1000)};
  PlacementPlan plan = placer_->PlanPlacement(models, ps);
  EXPECT_EQ(plan.chosen, (std::vector<std::string>{"fast", "fast", "slow"}));
  const CandidateScore& fast_for_c = plan.decisions[2].candidates[0];
  EXPECT_NEAR(fast_for_c.utilization, (4000.0 + 2500 + 1000) / 7000, 1e-9);
  EXPECT_NEAR(fast_for_c.memory_utilization, 2.0 / 3, 1e-9);
  EXPECT_FALSE(fast_for_c.fits);
}

// A 2-core partition (one instance per core: 12.9 samples/s with one instance, 25.8 with two)
// already booked with 20 samples/s, and an idle lone core.
std::vector<ProcessorView> PartitionAndCore(bool per_count) {
  ProcessorView partition = Proc("sim:cpu2", "cpu", 0, 0, 25.8, {"simulated"});
  partition.max_instances = 2;
  partition.instances = 1;
  partition.reserved_utilization = 20 / 25.8;
  ProcessorView core = Proc("sim:cpu1", "cpu", 0, 0, 12.9, {"simulated"});
  core.max_instances = 1;
  if (per_count) {
    partition.capacity_per_s = {12.9, 25.8};
    core.capacity_per_s = {12.9};
  }
  return {partition, core};
}

TEST_F(PlacerTest, ASecondModelTakesThePartitionsSecondInstanceWhereTheCapacityIs) {
  // One instance serves 12.9 of the 20 booked: the second instance adds 12.9 served samples/s
  // there (the model's 5 and 7.1 of the first's overflow), the lone core only the model's 5.
  PlacementDecision d = placer_->Place(WithRate("m", 5), PartitionAndCore(true));
  EXPECT_EQ(d.chosen, "sim:cpu2");
  EXPECT_NEAR(d.candidates[0].gain_per_s, 5 + (20 - 12.9), 1e-9);
  EXPECT_NEAR(d.candidates[1].gain_per_s, 5, 1e-9);
  EXPECT_NE(d.reason.find("one more instance here serves the most"), std::string::npos);
}

TEST_F(PlacerTest, WithoutPerCountCapacityThePartitionCountsAsPForAnyInstances) {
  // The old rule: both absorb the 5 samples/s against P, so the least workload after wins.
  PlacementDecision d = placer_->Place(WithRate("m", 5), PartitionAndCore(false));
  EXPECT_EQ(d.chosen, "sim:cpu1");
  EXPECT_NEAR(d.candidates[0].utilization, 25 / 25.8, 1e-9);
  EXPECT_NEAR(d.candidates[0].gain_per_s, 5, 1e-9);
  EXPECT_NE(d.reason.find("least workload"), std::string::npos);
}

TEST_F(PlacerTest, OneInstanceOnAPartitionAbsorbsOnlyItsOwnCoresShare) {
  // Empty partition, 20 samples/s: its first instance serves 12.9, so it does not fit; scored
  // against P (no per-count data) it would.
  for (bool per_count : {true, false}) {
    std::vector<ProcessorView> ps = PartitionAndCore(per_count);
    ps[0].instances = 0;
    ps[0].reserved_utilization = 0;
    const CandidateScore c = placer_->Place(WithRate("m", 20), ps).candidates[0];
    EXPECT_EQ(c.fits, !per_count);
    EXPECT_NEAR(c.utilization, per_count ? 20 / 12.9 : 20 / 25.8, 1e-9);
    EXPECT_NEAR(c.gain_per_s, per_count ? 12.9 : 20, 1e-9);
  }
}

TEST(PlacerCreateTest, RejectsBadWeights) {
  FakeClock clock;
  Placer::Options o;
  o.weights = {-1, 0, 0};
  EXPECT_FALSE(Placer::Create(o, &clock).ok());
  o.weights = {0, 0, 0};
  EXPECT_FALSE(Placer::Create(o, &clock).ok());
  EXPECT_FALSE(Placer::Create({}, nullptr).ok());
}

}  // namespace
}  // namespace batchwise
