#include "serving/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <nlohmann/json.hpp>
#include <span>
#include <thread>

#include "serving/testing/scheduler_harness.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: the harness
using std::chrono::seconds;

const CandidateScore& Candidate(const PlacementDecision& d, const std::string& id) {
  for (const auto& c : d.candidates) {
    if (c.processor_id == id) return c;
  }
  ADD_FAILURE() << "no candidate " << id;
  return d.candidates.front();
}

std::map<std::string, PerfTable> SameProfiles(std::vector<std::string> ids, double perf = 100,
                                              int instances = 1) {
  std::map<std::string, PerfTable> out;
  for (const auto& id : ids) out[id] = TableWithPerformance(perf, instances);
  return out;
}

Harness TwoCpus(Scheduler::Options o = ImmediateOptions(), FakeEngineOptions e = {}) {
  return Harness({CpuProcessor("cpu:0", {0}), CpuProcessor("cpu:1", {1})},
                 SameProfiles({"cpu:0", "cpu:1"}), o, std::move(e));
}

TEST(SchedulerTest, PlacesOnTheLeastWorkloadProcessorAndRecordsTheNumbers) {
  Harness h = TwoCpus();
  h.Set("cpu:0", Load(0.8, 4));
  h.Set("cpu:1", Load(0.1, 2));
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());
  auto inst = h.scheduler->Instances("m");
  ASSERT_EQ(inst.size(), 1u);
  EXPECT_EQ(inst[0].processor, "cpu:1");
  auto d = h.scheduler->Decisions("m");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].chosen, "cpu:1");
  // workload = 0.5 u + 0.2 m + 0.3 (1 - P/maxP); equal P
  EXPECT_NEAR(Candidate(d[0], "cpu:0").workload, 0.5 * 0.8 + 0.2 * 4 / 16, 1e-9);
  EXPECT_NEAR(Candidate(d[0], "cpu:1").workload, 0.5 * 0.1 + 0.2 * 2 / 16, 1e-9);
  EXPECT_NEAR(Candidate(d[0], "cpu:1").performance, 100, 1e-9);
  auto j = h.scheduler->PlacementsJson("m");
  EXPECT_EQ(j["decisions"][0]["chosen"], "cpu:1");
  EXPECT_EQ(j["instances"][0]["processor"], "cpu:1");
}

TEST(SchedulerTest, TiesGoToTheSmallerIdEveryTime) {
  Harness h = TwoCpus();
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("a")).ok());
  EXPECT_EQ(h.scheduler->Instances("a")[0].processor, "cpu:0");
}

TEST(SchedulerTest, ExcludesProcessorsWithoutMemoryAndExplainsWhy) {
  Harness h = TwoCpus();
  h.Set("cpu:0", Load(0.0, 15.5));  // 0.5 GiB free
  h.Set("cpu:1", Load(0.9, 1));
  LoadOptions load;
  load.memory_bytes = 1 * kGiB;
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m"), load).ok());
  auto d = h.scheduler->Decisions("m")[0];
  EXPECT_EQ(d.chosen, "cpu:1");
  EXPECT_NE(Candidate(d, "cpu:0").excluded.find("free memory"), std::string::npos)
      << Candidate(d, "cpu:0").excluded;
}

TEST(SchedulerTest, RespectsTheProfiledInstanceLimit) {
  Harness h = TwoCpus();  // one instance per processor
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("a")).ok());
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("b")).ok());
  EXPECT_EQ(h.scheduler->Instances("a")[0].processor, "cpu:0");
  EXPECT_EQ(h.scheduler->Instances("b")[0].processor, "cpu:1");
  auto d = h.scheduler->Decisions("b")[0];
  EXPECT_EQ(Candidate(d, "cpu:0").excluded,
            "already runs 1 instance(s), the most instances its profile finds useful (1)");
  Status full = h.scheduler->LoadModel(TinyModel("c"));
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("no processor can take the model"), std::string::npos);
  EXPECT_EQ(h.scheduler->Decisions("c").size(), 1u);  // recorded although nothing qualified
}

TEST(SchedulerTest, ExplainsAKindTheConfigExcludes) {
  Harness h = TwoCpus();
  ModelConfig c = TinyModel("npu_only");
  c.processor_kinds = {"npu"};
  EXPECT_EQ(h.scheduler->LoadModel(c).code(), StatusCode::kResourceExhausted);
  auto d = h.scheduler->Decisions("npu_only")[0];
  EXPECT_EQ(Candidate(d, "cpu:0").excluded, "model config does not allow processor kind 'cpu'");
}

TEST(SchedulerTest, SharedCpuSplitsItsCoresBetweenInstances) {
  // One 2-core processor whose profile allows two instances: each gets one thread on both cores.
  Harness h({CpuProcessor("cpu:0-1", {0, 1})}, SameProfiles({"cpu:0-1"}, 100, 2));
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("a")).ok());
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("b")).ok());
  auto created = h.factory.created();
  ASSERT_EQ(created.size(), 2u);
  int threads = 0;
  for (const auto& c : created) {
    EXPECT_EQ(c.target.cpu_cores, (std::vector<int>{0, 1}));
    threads += c.target.num_threads;
  }
  EXPECT_EQ(threads, 2);  // never more than the cores
}

TEST(SchedulerTest, AnInstanceAloneOnAProcessorGetsAllItsCores) {
  Harness h({CpuProcessor("cpu:0-1", {0, 1})}, SameProfiles({"cpu:0-1"}, 100, 1));
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("a")).ok());
  EXPECT_EQ(h.factory.created()[0].target.num_threads, 2);
}

TEST(SchedulerTest, ServesRequestsWithEachRequestsOwnRows) {
  Harness h = TwoCpus();
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());
  Collector c;
  ASSERT_TRUE(h.scheduler->Infer(Request("m", 7, 2), c.Callback()).ok());
  ASSERT_TRUE(h.scheduler->Infer(Request("m", 9, 1), c.Callback()).ok());
  c.WaitFor(2);
  for (auto& [status, response] : c.results()) {
    ASSERT_TRUE(status.ok()) << status;
    ASSERT_EQ(response.outputs.size(), 1u);
    const float v = response.id == "7.000000" ? 7 : 9;
    EXPECT_EQ(response.outputs[0].name, "y");
    EXPECT_EQ(response.outputs[0].tensor.shape()[0], v == 7 ? 2 : 1);
    for (float x : response.outputs[0].tensor.as<float>()) EXPECT_EQ(x, v);
    EXPECT_EQ(response.processor, "cpu:0");
  }
}

TEST(SchedulerTest, BatchesRequestsAndCountsThemLikeTriton) {
  Scheduler::Options o = ImmediateOptions();
  o.batching.controller.policy = BatchPolicy::kFixed;
  o.batching.controller.fixed.batch_size = 4;
  o.batching.max_queue_delay_micros = 60'000'000;  // the fake clock never gets there
  Harness h = TwoCpus(o);
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());
  Collector c;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(h.scheduler->Infer(Request("m", i), c.Callback()).ok());
  c.WaitFor(4);
  auto stats = h.scheduler->StatsJson("m");
  ASSERT_TRUE(stats.ok());
  const auto& s = (*stats)["model_stats"][0];
  EXPECT_EQ(s["inference_count"], 4);
  EXPECT_EQ(s["execution_count"], 1);
  EXPECT_EQ(s["inference_stats"]["success"]["count"], 4);
  EXPECT_EQ(s["batch_stats"][0]["batch_size"], 4);
  EXPECT_EQ(s["batch_stats"][0]["compute_infer"]["count"], 1);
}

TEST(SchedulerTest, RejectsBadRequestsWithWhatWasWrong) {
  Harness h = TwoCpus();
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m", 4)).ok());
  Collector c;
  EXPECT_EQ(h.scheduler->Infer(Request("nope", 1), c.Callback()).code(), StatusCode::kNotFound);
  auto expect_invalid = [&](InferRequest r, const std::string& says) {
    Status s = h.scheduler->Infer(std::move(r), c.Callback());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find(says), std::string::npos) << s;
  };
  expect_invalid(Request("m", 1, 5), "max_batch_size 4");
  InferRequest wrong_name = Request("m", 1);
  wrong_name.inputs[0].name = "z";
  expect_invalid(wrong_name, "no input 'z'");
  InferRequest missing = Request("m", 1);
  missing.inputs.clear();
  expect_invalid(missing, "missing input 'x'");
  InferRequest wrong_shape = Request("m", 1);
  wrong_shape.inputs[0].tensor = Tensor::Allocate(DataType::kFp32, {1, 3});
  expect_invalid(wrong_shape, "expects [-1,4]");
  InferRequest wrong_type = Request("m", 1);
  wrong_type.inputs[0].tensor = Tensor::Allocate(DataType::kInt32, {1, 4});
  expect_invalid(wrong_type, "datatype INT32");
  InferRequest bad_output = Request("m", 1);
  bad_output.requested_outputs = {"w"};
  expect_invalid(bad_output, "no output 'w'");
  EXPECT_TRUE(c.results().empty());  // callbacks only for accepted requests
}

TEST(SchedulerTest, AFullQueueIsUnavailable) {
  Scheduler::Options o = ImmediateOptions();
  o.batching.max_queue_size = 8;
  o.batching.controller.max_batch_size = 8;
  auto gate = std::make_shared<Gate>();
  Harness h = TwoCpus(o, {.gate = gate});
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());
  gate->Close();
  Collector c;
  ASSERT_TRUE(h.scheduler->Infer(Request("m", 0), c.Callback()).ok());
  gate->WaitForWaiting(1);  // that one is running; the queue is empty again
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(h.scheduler->Infer(Request("m", 1), c.Callback()).ok());
  EXPECT_EQ(h.scheduler->Infer(Request("m", 2), c.Callback()).code(), StatusCode::kUnavailable);
  gate->Open();
  c.WaitFor(9);
  for (auto& [s, r] : c.results()) EXPECT_TRUE(s.ok()) << s;
}

TEST(SchedulerTest, UnloadDrainsAcceptedRequests) {
  auto gate = std::make_shared<Gate>();
  Harness h = TwoCpus(ImmediateOptions(), {.gate = gate});
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());
  gate->Close();
  Collector c;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(h.scheduler->Infer(Request("m", i), c.Callback()).ok());
  gate->WaitForWaiting(1);
  std::thread unload([&] { EXPECT_TRUE(h.scheduler->UnloadModel("m").ok()); });
  gate->Open();
  unload.join();
  auto results = c.results();
  ASSERT_EQ(results.size(), 5u);  // all completed before UnloadModel returned
  for (auto& [s, r] : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(h.scheduler->Infer(Request("m", 1), c.Callback()).code(), StatusCode::kNotFound);
  EXPECT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());  // its slot was freed
}

// --- Reload (LoadOptions::replace) ---

LoadOptions Replace() {
  LoadOptions load;
  load.replace = true;
  return load;
}

int InstancesBooked(Scheduler& s) {
  int n = 0;
  for (const auto& v : s.ProcessorViews()) n += v.instances;
  return n;
}

TEST(SchedulerTest, AReloadWhileRequestsFlowRefusesNoneAndThenServesTheNewConfig) {
  Harness h = TwoCpus();
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m", 8)).ok());
  Collector c;
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, refused{0};
  std::thread producer([&] {  // closed loop: at most 16 requests outstanding
    for (int i = 0; !stop.load(); ++i) {
      if (sent.load() >= 16) c.WaitFor(sent.load() - 16);
      Status s = h.scheduler->Infer(Request("m", static_cast<float>(i)), c.Callback());
      (s.ok() ? sent : refused).fetch_add(1);
      if (!s.ok()) ADD_FAILURE() << s;
    }
  });
  c.WaitFor(100);
  for (int reload = 0; reload < 5; ++reload) {
    const int max_batch = reload % 2 == 0 ? 4 : 8;
    ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m", max_batch), Replace()).ok());
    c.WaitFor(sent.load() + 50);  // requests keep flowing through the new runtime
  }
  stop = true;
  producer.join();
  c.WaitFor(sent.load());
  EXPECT_EQ(refused.load(), 0);
  for (auto& [s, r] : c.results()) {
    EXPECT_TRUE(s.ok()) << s;
    if (s.ok()) EXPECT_EQ(r.outputs.at(0).tensor.as<float>()[0], std::stof(r.id));
  }
  EXPECT_EQ(h.scheduler->LoadedConfig("m")->max_batch_size, 4);  // the last reload's config
  EXPECT_EQ(h.scheduler->Infer(Request("m", 1, 8), c.Callback()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(h.scheduler->Instances("m").size(), 1u);
  EXPECT_EQ(InstancesBooked(*h.scheduler), 1);  // the old instances' bookings were freed
}

TEST(SchedulerTest, AReloadLetsAcceptedRequestsFinishOnTheOldInstance) {
  auto gate = std::make_shared<Gate>();
  Harness h = TwoCpus(ImmediateOptions(), {.gate = gate});
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());
  gate->Close();
  Collector c;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(h.scheduler->Infer(Request("m", i), c.Callback()).ok());
  gate->WaitForWaiting(1);
  std::thread reload([&] { EXPECT_TRUE(h.scheduler->LoadModel(TinyModel("m"), Replace()).ok()); });
  gate->WaitForWaiting(2);  // the new instance's warm-up, beside the old one's batch
  EXPECT_TRUE(h.scheduler->IsLoaded("m"));
  gate->Open();
  reload.join();
  auto results = c.results();
  ASSERT_EQ(results.size(), 5u);  // drained before the reload returned
  for (auto& [s, r] : results) EXPECT_TRUE(s.ok()) << s;
}

TEST(SchedulerTest, AReloadWhenEveryProcessorIsAtItsLimitTakesTheOldOnesPlace) {
  Harness h = TwoCpus();  // one instance per processor
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("a")).ok());
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("b")).ok());
  ASSERT_EQ(h.scheduler->LoadModel(TinyModel("c")).code(), StatusCode::kResourceExhausted);
  Status s = h.scheduler->LoadModel(TinyModel("a", 4), Replace());
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(h.scheduler->LoadedConfig("a")->max_batch_size, 4);
  ASSERT_EQ(h.scheduler->Instances("a").size(), 1u);
  EXPECT_EQ(h.scheduler->Instances("a")[0].processor, "cpu:0");
  EXPECT_EQ(InstancesBooked(*h.scheduler), 2);
  Collector c;
  ASSERT_TRUE(h.scheduler->Infer(Request("a", 3), c.Callback()).ok());
  c.WaitFor(1);
  EXPECT_TRUE(c.results()[0].first.ok());
}

TEST(SchedulerTest, AReloadWhoseEngineFailsKeepsTheOldOneServing) {
  FakeEngineOptions e;
  e.fail_load = [](const ModelConfig& c) { return c.max_batch_size == 4; };
  Harness h = TwoCpus(ImmediateOptions(), e);
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m", 8)).ok());
  Status s = h.scheduler->LoadModel(TinyModel("m", 4), Replace());
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("cannot load 'm'"), std::string::npos) << s;
  EXPECT_TRUE(h.scheduler->IsLoaded("m"));
  EXPECT_EQ(h.scheduler->LoadedConfig("m")->max_batch_size, 8);
  EXPECT_EQ(h.scheduler->Instances("m").size(), 1u);
  EXPECT_EQ(InstancesBooked(*h.scheduler), 1);
  Collector c;
  ASSERT_TRUE(h.scheduler->Infer(Request("m", 2, 8), c.Callback()).ok());
  c.WaitFor(1);
  EXPECT_TRUE(c.results()[0].first.ok());
}

TEST(SchedulerTest, AReloadThatCannotBePlacedKeepsTheOldOneServing) {
  Harness h = TwoCpus();
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());
  LoadOptions huge = Replace();
  huge.memory_bytes = 1000 * kGiB;
  Status s = h.scheduler->LoadModel(TinyModel("m", 4), huge);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("cannot place model 'm'"), std::string::npos) << s;
  EXPECT_EQ(h.scheduler->LoadedConfig("m")->max_batch_size, 8);
  EXPECT_EQ(InstancesBooked(*h.scheduler), 1);
  Collector c;
  ASSERT_TRUE(h.scheduler->Infer(Request("m", 2), c.Callback()).ok());
  c.WaitFor(1);
}

TEST(SchedulerTest, LoadingALoadedModelWithoutReplaceIsAlreadyExists) {
  Harness h = TwoCpus();
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m", 8)).ok());
  EXPECT_EQ(h.scheduler->LoadModel(TinyModel("m", 4)).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(h.scheduler->LoadedConfig("m")->max_batch_size, 8);
}

// --- Re-placement ---
//
// Re-placement acts on measured load: on these processors the engines take kSampleTime of fake
// time per sample (Run() advances the clock itself, on the batcher's thread), so an instance is
// busy exactly its samples × kSampleTime, and each processor's reading FOLLOWS the instances on
// it: the one holding a busy instance reads busy, the other idle (plus any load that is not ours).

constexpr Duration kSampleTime = std::chrono::milliseconds(10);

Scheduler::Options RebalanceOptions() {
  Scheduler::Options o = ImmediateOptions();
  o.rebalance.margin = 0.25;
  o.rebalance.sustain = seconds(10);
  o.rebalance.cooldown = seconds(30);
  return o;
}

// cpu:0 (cores 0, 1) and cpu:1 (cores 2, 3), each allowed `instances` instances.
std::unique_ptr<Harness> BusyCpus(Scheduler::Options o, int instances = 2) {
  auto clock = std::make_shared<std::atomic<FakeClock*>>(nullptr);
  FakeEngineOptions e;
  e.on_run = [clock](std::span<const Tensor> inputs) {
    if (FakeClock* c = clock->load()) c->Advance(inputs[0].shape()[0] * kSampleTime);
  };
  auto h = std::make_unique<Harness>(
      std::vector<Processor>{CpuProcessor("cpu:0", {0, 1}), CpuProcessor("cpu:1", {2, 3})},
      SameProfiles({"cpu:0", "cpu:1"}, 100, instances), o, e);
  clock->store(&h->clock);
  return h;
}

ModelConfig PatientModel(const std::string& name) {  // admission by time never refuses
  ModelConfig c = TinyModel(name);
  c.latency_target_ms = 1000;
  return c;
}

// Serves `samples` one-sample requests of `model`, up to four at a time.
void Serve(Harness& h, const std::string& model, int samples) {
  for (int sent = 0; sent < samples;) {
    Collector c;
    int accepted = 0;
    for (int i = 0; i < std::min(4, samples - sent); ++i) {
      accepted += h.scheduler->Infer(Request(model, 1), c.Callback()).ok();
    }
    c.WaitFor(accepted);
    sent += accepted;
  }
}

// One simulated second: each model of `busy` keeps its instance busy that share of the second,
// the rest passes idle, then every processor reads `external` plus the shares of the instances
// on it.
void PassSecond(Harness& h, const std::map<std::string, double>& busy,
                std::map<std::string, double> external = {}) {
  const TimePoint start = h.clock.Now();
  for (const auto& [model, share] : busy) {
    Serve(h, model, static_cast<int>(std::lround(share * std::chrono::seconds(1) / kSampleTime)));
  }
  h.clock.AdvanceTo(start + seconds(1));
  std::map<std::string, double> u = std::move(external);
  for (const InstanceInfo& i : h.scheduler->Instances()) u[i.processor] += busy.at(i.model);
  for (const char* id : {"cpu:0", "cpu:1"}) h.Set(id, Load(std::min(1.0, u[id])));
}

int MovesDone(const Scheduler& s) {
  int done = 0;
  for (const MoveRecord& m : s.Moves()) done += m.done;
  return done;
}

const nlohmann::json& Controller(const nlohmann::json& models, const std::string& name) {
  for (const auto& m : models) {
    if (m["name"] == name) return m["batching"][0];
  }
  ADD_FAILURE() << "no model " << name;
  return models;
}

// The ping-pong this rule exists for: one busy model on its processor, an idle one beside it.
// Moving it would only make the other processor the hot one, so over ten minutes it never moves,
// and the move records say why.
TEST(SchedulerTest, ASingleBusyModelBesideAnIdleProcessorNeverPingPongs) {
  auto h = BusyCpus(RebalanceOptions());
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("m")).ok());  // cpu:0 (tie, smaller id)
  for (int s = 0; s < 600; ++s) {
    PassSecond(*h, {{"m", 0.95}});
    (void)h->scheduler->RebalanceOnce();
  }
  EXPECT_EQ(MovesDone(*h->scheduler), 0);
  EXPECT_EQ(h->scheduler->Instances("m")[0].processor, "cpu:0");
  const auto moves = h->scheduler->Moves();
  ASSERT_FALSE(moves.empty());  // proposed (the gap is there), and found not worth making
  EXPECT_EQ(moves[0].model, "m");
  EXPECT_NEAR(moves[0].from_workload_after, moves[0].to_workload, 0.02);  // the mirror image
  EXPECT_NEAR(moves[0].to_workload_after, moves[0].from_workload, 0.02);
  EXPECT_NE(moves[0].detail.find("after moving m (busy 0.95), cpu:1 would be at"),
            std::string::npos)
      << moves[0].detail;
  EXPECT_NE(moves[0].detail.find("no gain"), std::string::npos) << moves[0].detail;
  EXPECT_EQ(h->scheduler->PlacementsJson("m")["moves"][0]["done"], false);
}

// A real imbalance — two busy models on one processor, an idle one beside it — is corrected with
// one move, and only one, over ten minutes.
TEST(SchedulerTest, TwoBusyModelsOnOneProcessorAreSplitOnce) {
  auto h = BusyCpus(RebalanceOptions());
  LoadOptions pinned;
  pinned.processor = "cpu:0";
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("a"), pinned).ok());
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("b"), pinned).ok());
  std::optional<MoveRecord> move;
  int moved_at = -1;
  for (int s = 0; s < 600; ++s) {
    PassSecond(*h, {{"a", 0.45}, {"b", 0.45}});
    auto record = h->scheduler->RebalanceOnce();
    if (record && record->done) {
      EXPECT_FALSE(move.has_value()) << "moved again at " << s << ": " << record->detail;
      move = record, moved_at = s;
    }
  }
  ASSERT_TRUE(move.has_value());
  EXPECT_EQ(moved_at, 10);  // as soon as the imbalance has lasted `sustain`
  EXPECT_EQ(MovesDone(*h->scheduler), 1);
  EXPECT_EQ(move->from, "cpu:0");
  EXPECT_EQ(move->to, "cpu:1");
  EXPECT_NEAR(move->from_workload_after, move->to_workload_after, 0.02) << move->detail;
  EXPECT_EQ(h->scheduler->Instances(move->model)[0].processor, "cpu:1");
  EXPECT_EQ(h->scheduler->Instances(move->model == "a" ? "b" : "a")[0].processor, "cpu:0");
}

// The moved model's batch controller carries on where it stood (batch size, counters, window of
// recent sizes), not from batch size 1.
TEST(SchedulerTest, AMovedInstanceStartsFromItsPredecessorsControllerState) {
  Scheduler::Options o = RebalanceOptions();
  o.batching.controller.policy = BatchPolicy::kTrend;
  o.batching.controller.step_size = 1;
  auto h = BusyCpus(o);
  LoadOptions pinned;
  pinned.processor = "cpu:0";
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("a"), pinned).ok());
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("b"), pinned).ok());
  std::optional<MoveRecord> move;
  nlohmann::json before;
  for (int s = 0; s < 20 && !move; ++s) {
    PassSecond(*h, {{"a", 0.45}, {"b", 0.45}});
    before = h->scheduler->ModelsJson();
    auto record = h->scheduler->RebalanceOnce();
    if (record && record->done) move = record;
  }
  ASSERT_TRUE(move.has_value());
  const nlohmann::json& old = Controller(before, move->model);
  const nlohmann::json now = Controller(h->scheduler->ModelsJson(), move->model);
  EXPECT_GT(old["batch_size"].get<int>(), 1);  // it had learned something
  EXPECT_EQ(now["batch_size"], old["batch_size"]);
  EXPECT_EQ(now["size_changes"], old["size_changes"]);
  EXPECT_EQ(now["direction_changes"], old["direction_changes"]);
  EXPECT_EQ(now["z"], old["z"]);  // the same window of recent sizes
  EXPECT_EQ(now["trend"], old["trend"]);
  EXPECT_EQ(now["last_decision"], "resumed");
  EXPECT_EQ(now["batches"], 0);  // a new batcher: nothing has run on it yet
}

// Load that is not ours beside a busy instance: moving the instance takes its share to the idle
// processor and shrinks the gap by more than the margin.
TEST(SchedulerTest, RePlacesAfterASustainedShift) {
  auto h = BusyCpus(RebalanceOptions());
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("m")).ok());  // on cpu:0 (tie, smaller id)
  for (int i = 0; i < 10; ++i) {
    PassSecond(*h, {{"m", 0.4}}, {{"cpu:0", 0.5}});
    EXPECT_FALSE(h->scheduler->RebalanceOnce().has_value()) << "moved too early at step " << i;
  }
  PassSecond(*h, {{"m", 0.4}}, {{"cpu:0", 0.5}});
  auto move = h->scheduler->RebalanceOnce();  // 10 s of imbalance
  ASSERT_TRUE(move.has_value());
  EXPECT_TRUE(move->done) << move->detail;
  EXPECT_EQ(move->model, "m");
  EXPECT_EQ(move->from, "cpu:0");
  EXPECT_EQ(move->to, "cpu:1");
  EXPECT_EQ(h->scheduler->Instances("m")[0].processor, "cpu:1");
  EXPECT_EQ(h->scheduler->Moves().size(), 1u);
  EXPECT_EQ(h->scheduler->PlacementsJson("m")["moves"][0]["to"], "cpu:1");
  // Its measured share (about 0.4; the window is cut at slot edges) came off cpu:0's workload.
  EXPECT_NE(move->detail.find("after moving m (busy "), std::string::npos) << move->detail;
  EXPECT_LT(move->from_workload_after, move->from_workload - 0.15);
}

TEST(SchedulerTest, DoesNotMoveAfterASpike) {
  Harness h = TwoCpus(RebalanceOptions());
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());
  for (int i = 0; i < 30; ++i) {
    h.Set("cpu:0", Load(i % 8 == 0 ? 1.0 : 0.2));  // a 1 s spike every 8 s
    EXPECT_FALSE(h.scheduler->RebalanceOnce().has_value()) << "moved at step " << i;
    h.clock.Advance(seconds(1));
  }
  EXPECT_EQ(h.scheduler->Instances("m")[0].processor, "cpu:0");
}

TEST(SchedulerTest, AMoveLosesNoRequest) {
  auto h = BusyCpus(RebalanceOptions());
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("m")).ok());
  for (int i = 0; i < 10; ++i) {
    PassSecond(*h, {{"m", 0.4}}, {{"cpu:0", 0.5}});
    ASSERT_FALSE(h->scheduler->RebalanceOnce().has_value());
  }
  h->clock.Advance(seconds(1));
  Collector c;
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, refused{0};
  std::thread producer([&] {  // closed loop: at most 16 requests outstanding
    for (int i = 0; !stop.load() || i < 200; ++i) {
      if (i >= 16) c.WaitFor(i - 16);
      Status s = h->scheduler->Infer(Request("m", static_cast<float>(i)), c.Callback());
      (s.ok() ? sent : refused).fetch_add(1);
    }
  });
  auto move = h->scheduler->RebalanceOnce();
  stop = true;
  producer.join();
  ASSERT_TRUE(move.has_value() && move->done) << (move ? move->detail : "no proposal");
  c.WaitFor(sent.load());
  EXPECT_EQ(refused.load(), 0);
  std::map<std::string, int> served;
  for (auto& [s, r] : c.results()) {
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(r.outputs.at(0).tensor.as<float>()[0], std::stof(r.id));
    ++served[r.processor];
  }
  EXPECT_EQ(static_cast<int>(c.results().size()), sent.load());
  EXPECT_GT(served["cpu:1"], 0);  // traffic switched to the new instance
}

TEST(SchedulerTest, AMoveThatCannotHappenSaysWhy) {
  auto h = BusyCpus(RebalanceOptions(), /*instances=*/1);
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("a")).ok());
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("b")).ok());  // cpu:1 full
  std::optional<MoveRecord> move;
  for (int i = 0; i < 11; ++i) {
    PassSecond(*h, {{"a", 0.4}, {"b", 0}}, {{"cpu:0", 0.5}});
    move = h->scheduler->RebalanceOnce();
  }
  ASSERT_TRUE(move.has_value());
  EXPECT_FALSE(move->done);
  EXPECT_EQ(move->model, "a");
  EXPECT_NE(move->detail.find("cpu:1 already runs"), std::string::npos) << move->detail;
  EXPECT_NE(move->detail.find("instance(s)"), std::string::npos) << move->detail;
  EXPECT_EQ(h->scheduler->Instances("a")[0].processor, "cpu:0");
}

TEST(SchedulerTest, TheLoopRebalancesOnTheClock) {
  Scheduler::Options o = RebalanceOptions();
  o.rebalance_period_ms = 1000;
  auto h = BusyCpus(o);
  ASSERT_TRUE(h->scheduler->LoadModel(PatientModel("m")).ok());
  h->Set("cpu:0", Load(0.9));  // 0.4 of it the instance's (below), the rest not ours
  h->scheduler->Start();
  h->scheduler->monitor()->Stop();  // readings stay as scripted
  // Each second of fake time (0.4 s of it serving), wait (in real time) for the loop's step.
  for (uint64_t step = 1; step <= 12 && h->scheduler->Moves().empty(); ++step) {
    const TimePoint start = h->clock.Now();
    Serve(*h, "m", 40);
    h->clock.AdvanceTo(start + seconds(1));
    while (h->scheduler->rebalance_steps() < step) std::this_thread::yield();
  }
  EXPECT_EQ(h->scheduler->rebalance_steps(), 11u);  // imbalance seen at 1 s, sustained by 11 s
  h->scheduler->Stop();
  ASSERT_EQ(h->scheduler->Moves().size(), 1u);
  EXPECT_TRUE(h->scheduler->Moves()[0].done) << h->scheduler->Moves()[0].detail;
  EXPECT_EQ(h->scheduler->Instances("m")[0].processor, "cpu:1");
}

TEST(SchedulerTest, ModelsAndProcessorsViews) {
  Harness h = TwoCpus();
  ASSERT_TRUE(h.scheduler->LoadModel(TinyModel("m")).ok());
  auto models = h.scheduler->ModelsJson();
  EXPECT_EQ(models[0]["name"], "m");
  EXPECT_EQ(models[0]["batching"][0]["policy"], "queue_delay");
  auto procs = h.scheduler->ProcessorsJson();
  ASSERT_EQ(procs.size(), 2u);
  EXPECT_EQ(procs[0]["instances"], 1);
  EXPECT_EQ(procs[0]["performance_source"], "profile");
  EXPECT_EQ(h.scheduler->LoadModel(TinyModel("m")).code(), StatusCode::kAlreadyExists);
}

TEST(SchedulerTest, ConfigBatchingSectionOverridesTheDefaults) {
  ModelConfig c = TinyModel("m", 16);
  c.latency_target_ms = 20;
  c.batching_json = R"({"policy": "fixed", "batch_size": 4, "max_queue_delay_micros": 100})";
  auto o = ModelBatchingOptions(c, BatcherOptions{});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->controller.policy, BatchPolicy::kFixed);
  EXPECT_EQ(o->controller.fixed.batch_size, 4);
  EXPECT_EQ(o->controller.max_batch_size, 16);
  EXPECT_EQ(o->controller.latency_target_micros, 20'000);
  EXPECT_EQ(o->max_queue_delay_micros, 100);
  c.batching_json = R"({"policy": "fastest"})";
  EXPECT_EQ(ModelBatchingOptions(c, BatcherOptions{}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(SchedulerTest, ConfigBatchingSectionReachesEveryKnobOfTheMethod) {
  ModelConfig c = TinyModel("m", 32);
  c.batching_json = R"({"policy": "aimd", "min_batch_size": 2, "initial_batch_size": 4,
      "step_size": 3, "required_throughput_per_s": 1500.5, "trend_window": 24,
      "trend_alpha": 0.1, "reversal_confirmations": 3, "max_queue_delay_micros": 0,
      "max_queue_size": 128, "default_timeout_micros": 70000, "batch_size": 6})";
  auto o = ModelBatchingOptions(c, BatcherOptions{});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->controller.policy, BatchPolicy::kAimd);
  EXPECT_EQ(o->controller.min_batch_size, 2);
  EXPECT_EQ(o->controller.initial_batch_size, 4);
  EXPECT_EQ(o->controller.step_size, 3);
  EXPECT_DOUBLE_EQ(o->controller.required_throughput_per_s, 1500.5);
  EXPECT_EQ(o->controller.trend.window, 24);
  EXPECT_DOUBLE_EQ(o->controller.trend.alpha, 0.1);
  EXPECT_EQ(o->controller.trend.reversal_confirmations, 3);
  EXPECT_EQ(o->max_queue_delay_micros, 0);
  EXPECT_EQ(o->max_queue_size, 128);
  EXPECT_EQ(o->default_timeout_micros, 70'000);
  EXPECT_EQ(o->controller.fixed.batch_size, 6);
}

TEST(SchedulerTest, ConfigBatchingSectionKeepsTheDefaultsOfKeysItLeavesOut) {
  BatcherOptions defaults;
  defaults.controller.trend.window = 32;
  defaults.controller.required_throughput_per_s = 100;
  ModelConfig c = TinyModel("m", 16);
  c.batching_json = R"({"trend_alpha": 0.01})";
  auto o = ModelBatchingOptions(c, defaults);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->controller.trend.window, 32);
  EXPECT_DOUBLE_EQ(o->controller.required_throughput_per_s, 100);
  EXPECT_DOUBLE_EQ(o->controller.trend.alpha, 0.01);
}

// The batching section `section` of model "m" is refused with INVALID_ARGUMENT naming `says`.
void ExpectBatchingRejected(const std::string& section, const std::string& says) {
  ModelConfig c = TinyModel("m", 16);
  c.batching_json = section;
  Status s = ModelBatchingOptions(c, BatcherOptions{}).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << section;
  EXPECT_NE(s.message().find(says), std::string::npos) << section << ": " << s;
  EXPECT_NE(s.message().find("model 'm'"), std::string::npos) << s;
}

TEST(SchedulerTest, ConfigBatchingSectionRefusesUnknownKeysAndWrongTypesNamingTheKey) {
  ExpectBatchingRejected(R"({"trend_windw": 16})", "batching has unknown key 'trend_windw'");
  ExpectBatchingRejected(R"({"max_queue_delay_us": 0})", "unknown key 'max_queue_delay_us'");
  ExpectBatchingRejected(R"({"trend_alpha": "0.05"})", "batching.trend_alpha must be a number");
  ExpectBatchingRejected(R"({"trend_window": 16.5})", "batching.trend_window must be an integer");
  ExpectBatchingRejected(R"({"step_size": true})", "batching.step_size must be an integer");
  ExpectBatchingRejected(R"({"required_throughput_per_s": null})",
                         "batching.required_throughput_per_s must be a number");
  ExpectBatchingRejected(R"({"reversal_confirmations": 4294967297})",
                         "batching.reversal_confirmations is out of range");
  ExpectBatchingRejected(R"({"policy": 1})", "batching.policy must be a string");
  ExpectBatchingRejected(R"([1, 2])", "batching must be an object");
}

TEST(SchedulerTest, ConfigBatchingSectionValuesOutOfRangeAreRefused) {
  ExpectBatchingRejected(R"({"trend_window": 3})", "trend.window must lie in [5, 1024]");
  ExpectBatchingRejected(R"({"trend_alpha": 1})", "trend.alpha must lie in (0, 1)");
  ExpectBatchingRejected(R"({"reversal_confirmations": 0})", "reversal_confirmations must be >= 1");
  ExpectBatchingRejected(R"({"required_throughput_per_s": -1})",
                         "required_throughput_per_s must be >= 0");
  ExpectBatchingRejected(R"({"step_size": 0})", "step_size (delta) must be >= 1");
  ExpectBatchingRejected(R"({"max_queue_delay_micros": -1})",
                         "max_queue_delay_micros must be >= 0");
}

TEST(SchedulerTest, ModelsViewShowsEachModelsBatchingOptions) {
  Harness h = TwoCpus();
  ModelConfig c = TinyModel("m", 16);
  c.latency_target_ms = 12.5;
  c.batching_json = R"({"required_throughput_per_s": 800, "step_size": 3, "trend_window": 20,
      "trend_alpha": 0.01, "reversal_confirmations": 4, "max_queue_delay_micros": 250})";
  ASSERT_TRUE(h.scheduler->LoadModel(c).ok());
  nlohmann::json m = h.scheduler->ModelsJson()[0];
  EXPECT_EQ(m["state"], "READY");
  EXPECT_DOUBLE_EQ(m["latency_target_ms"].get<double>(), 12.5);
  EXPECT_DOUBLE_EQ(m["required_throughput_per_s"].get<double>(), 800);
  EXPECT_EQ(m["step_size"], 3);
  EXPECT_EQ(m["trend_window"], 20);
  EXPECT_DOUBLE_EQ(m["trend_alpha"].get<double>(), 0.01);
  EXPECT_EQ(m["reversal_confirmations"], 4);
  EXPECT_EQ(m["max_queue_delay_us"], 250);
}

}  // namespace
}  // namespace batchwise
