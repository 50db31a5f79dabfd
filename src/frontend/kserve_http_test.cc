// The KServe v2 HTTP frontend end to end: a real Server on an ephemeral port (fake engines over a
// temporary repository), driven with libcurl.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "batching/batcher.h"
#include "frontend/testing/http_client.h"
#include "frontend/testing/raw_connection.h"
#include "frontend/testing/server_fixture.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: the fixtures
using nlohmann::json;

const char* kInferPath = "/v2/models/tiny/infer";

std::string JsonInfer(float first, int batch = 1, const std::string& extra = "") {
  json data = json::array();
  for (int i = 0; i < batch * 4; ++i) data.push_back(i % 4 == 0 ? first : 0.0f);
  json j = {
      {"inputs", {{{"name", "x"}, {"datatype", "FP32"}, {"shape", {batch, 4}}, {"data", data}}}}};
  std::string s = j.dump();
  if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
  return s;
}

json Parse(const ClientResponse& r) { return json::parse(r.body, nullptr, false); }

std::string ErrorOf(const ClientResponse& r) {
  json j = Parse(r);
  return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "<" + r.body + ">";
}

class KServeHttpTest : public ::testing::Test {
 protected:
  void Start(FakeServerOptions o = {}) {
    gate_ = o.engine.gate;
    server_ = std::make_unique<FakeModelServer>(o);
    client_ = std::make_unique<HttpClient>(server_->port());
  }
  // The server on clock_ (which outlives it: declared first), with no warm-up to time.
  void StartOnFakeClock(FakeServerOptions o) {
    o.clock = &clock_;
    o.warmup_batches = 0;
    Start(o);
  }
  void SetUp() override { Start(); }
  void TearDown() override {
    if (gate_) gate_->Open();
  }

  FakeClock clock_;
  std::shared_ptr<Gate> gate_;
  std::unique_ptr<FakeModelServer> server_;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(KServeHttpTest, HealthAndServerMetadata) {
  EXPECT_EQ(client_->Get("/v2/health/live").status, 200);
  EXPECT_EQ(client_->Get("/v2/health/ready").status, 200);
  auto meta = client_->Get("/v2");
  ASSERT_EQ(meta.status, 200);
  json j = Parse(meta);
  EXPECT_EQ(j["name"], "batchwise");
  EXPECT_NE(j["extensions"].dump().find("binary_tensor_data"), std::string::npos);
}

TEST_F(KServeHttpTest, ModelMetadataReadyAndVersions) {
  auto m = client_->Get("/v2/models/tiny");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(Parse(m)["inputs"][0]["shape"], json({-1, 4}));
  EXPECT_EQ(client_->Get("/v2/models/tiny/versions/1").status, 200);
  EXPECT_EQ(client_->Get("/v2/models/tiny/ready").status, 200);
  EXPECT_EQ(client_->Get("/v2/models/tiny/versions/1/ready").status, 200);
  EXPECT_EQ(client_->Get("/v2/models/spare/ready").status, 400);  // in the repository, unloaded
  EXPECT_EQ(client_->Get("/v2/models/nope/ready").status, 404);
  EXPECT_EQ(client_->Get("/v2/models/tiny/versions/2").status, 404);
  auto bad = client_->Get("/v2/models/tiny/versions/one/ready");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(ErrorOf(bad).find("not a number"), std::string::npos) << bad.body;
}

TEST_F(KServeHttpTest, JsonInferenceAnswersWithJsonOutputs) {
  auto r = client_->Post(kInferPath, JsonInfer(2.5f, 2, R"("id":"req-1")"));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = Parse(r);
  EXPECT_EQ(j["model_name"], "tiny");
  EXPECT_EQ(j["id"], "req-1");
  EXPECT_EQ(j["outputs"][0]["name"], "y");
  EXPECT_EQ(j["outputs"][0]["shape"], json({2, 2}));
  EXPECT_EQ(j["outputs"][0]["data"], json({2.5, 2.5, 2.5, 2.5}));
  auto v = client_->Post("/v2/models/tiny/versions/1/infer", JsonInfer(1));
  EXPECT_EQ(v.status, 200) << v.body;
}

TEST_F(KServeHttpTest, BinaryInferenceAnswersWithBinaryOutputs) {
  size_t json_size = 0;
  std::string body = BinaryBody({{"x", "FP32", {1, 4}, FloatBytes({7, 0, 0, 0})}}, true, json_size);
  auto r = client_->Post(kInferPath, body,
                         {"Inference-Header-Content-Length: " + std::to_string(json_size),
                          "Content-Type: application/octet-stream"});
  ASSERT_EQ(r.status, 200) << r.body;
  const size_t header = std::stoul(r.headers.at("inference-header-content-length"));
  json j = json::parse(r.body.substr(0, header));
  EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 8);
  ASSERT_EQ(r.body.size(), header + 8);
  float y[2];
  std::memcpy(y, r.body.data() + header, 8);
  EXPECT_EQ(y[0], 7.0f);
  EXPECT_EQ(y[1], 7.0f);
}

TEST_F(KServeHttpTest, HeaderWithAnAllJsonBodyIsAccepted) {
  const std::string body = JsonInfer(3);
  auto r = client_->Post(kInferPath, body,
                         {"Inference-Header-Content-Length: " + std::to_string(body.size())});
  EXPECT_EQ(r.status, 200) << r.body;
}

struct BadRequest {
  std::string name;
  std::string path;
  std::string body;
  long status;
  std::string says;
};

class KServeHttpBadInputTest : public KServeHttpTest,
                               public ::testing::WithParamInterface<BadRequest> {};

TEST_P(KServeHttpBadInputTest, AnswersA4xxThatSaysWhatWasWrong) {
  const BadRequest& c = GetParam();
  auto r = client_->Post(c.path, c.body);
  EXPECT_EQ(r.status, c.status) << r.body;
  EXPECT_NE(ErrorOf(r).find(c.says), std::string::npos) << r.body;
  EXPECT_EQ(client_->Get("/v2/health/live").status, 200);  // the server is fine
}

INSTANTIATE_TEST_SUITE_P(
    Cases, KServeHttpBadInputTest,
    ::testing::Values(
        BadRequest{"malformed_json", kInferPath, "{\"inputs\": [", 400, "malformed JSON"},
        BadRequest{"unknown_model", "/v2/models/nope/infer", JsonInfer(1), 404, "unknown model"},
        BadRequest{"unloaded_model", "/v2/models/spare/infer", JsonInfer(1), 404, "not loaded"},
        BadRequest{"unknown_version", "/v2/models/tiny/versions/3/infer", JsonInfer(1), 404,
                   "no version 3"},
        BadRequest{"non_numeric_version", "/v2/models/tiny/versions/x/infer", JsonInfer(1), 400,
                   "not a number"},
        BadRequest{"unknown_input", kInferPath,
                   R"({"inputs":[{"name":"q","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]})",
                   400, "q"},
        BadRequest{"missing_input", kInferPath, R"({"inputs":[]})", 400, "x"},
        BadRequest{"wrong_datatype", kInferPath,
                   R"({"inputs":[{"name":"x","datatype":"INT32","shape":[1,4],"data":[1,2,3,4]}]})",
                   400, "INT32"},
        BadRequest{"wrong_shape", kInferPath,
                   R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]})",
                   400, "shape"},
        BadRequest{"data_size_mismatch", kInferPath,
                   R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3]}]})",
                   400, "elements"},
        BadRequest{"batch_above_max", kInferPath, JsonInfer(1, 9), 400, "max_batch_size"},
        BadRequest{"unknown_output", kInferPath, JsonInfer(1, 1, R"("outputs":[{"name":"zz"}])"),
                   400, "zz"},
        BadRequest{"no_route", "/v2/nothing/here", "", 404, "no such route"},
        BadRequest{"wrong_method", "/v2/health/live", "", 405, "not allowed"}),
    [](const auto& info) { return info.param.name; });

TEST_F(KServeHttpTest, BinarySizeMismatchIs400) {
  size_t json_size = 0;
  std::string body = BinaryBody({{"x", "FP32", {1, 4}, FloatBytes({1, 2, 3})}}, false, json_size);
  auto r = client_->Post(kInferPath, body,
                         {"Inference-Header-Content-Length: " + std::to_string(json_size)});
  EXPECT_EQ(r.status, 400) << r.body;
  auto bad = client_->Post(kInferPath, body, {"Inference-Header-Content-Length: lots"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(ErrorOf(bad).find("not a byte count"), std::string::npos) << bad.body;
}

TEST_F(KServeHttpTest, OversizeBodyAndHeaderAre413) {
  auto big = client_->Post(kInferPath, std::string(2 << 20, ' '));
  EXPECT_EQ(big.status, 413) << big.error;
  EXPECT_NE(ErrorOf(big).find("body exceeds"), std::string::npos);
  HttpClient other(server_->port());
  auto header = other.Request("GET", "/v2", "", {"X-Big: " + std::string(20000, 'a')});
  EXPECT_EQ(header.status, 413) << header.error;
  EXPECT_EQ(HttpClient(server_->port()).Get("/v2").status, 200);
}

TEST_F(KServeHttpTest, KeepAliveForHttp11AndForHttp10WhenAsked) {
  ASSERT_EQ(client_->Get("/v2").status, 200);
  for (int i = 0; i < 3; ++i) {
    auto r = client_->Post(kInferPath, JsonInfer(1));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.new_connections, 0) << "request " << i << " opened a new connection";
  }
  HttpClient ten(server_->port());
  ASSERT_EQ(ten.Request("GET", "/v2", "", {"Connection: keep-alive"}, true).status, 200);
  auto again = ten.Request("GET", "/v2", "", {"Connection: keep-alive"}, true);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.new_connections, 0);
  EXPECT_EQ(again.headers["connection"], "keep-alive");
  auto plain = ten.Request("GET", "/v2", "", {}, true);
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(ten.Request("GET", "/v2", "", {}, true).new_connections, 1);  // closed after 1.0
  // HTTP/1.1 asking to close: answered with "Connection: close", then closed.
  HttpClient eleven(server_->port());
  ASSERT_EQ(eleven.Get("/v2").status, 200);
  auto closing = eleven.Request("GET", "/v2", "", {"Connection: close"});
  EXPECT_EQ(closing.status, 200);
  EXPECT_EQ(closing.headers["connection"], "close");
  EXPECT_EQ(closing.headers["server"], "batchwise");
  EXPECT_EQ(closing.headers["content-type"], "application/json");
  EXPECT_EQ(closing.headers["content-length"], std::to_string(closing.body.size()));
  EXPECT_EQ(eleven.Get("/v2").new_connections, 1);
}

TEST_F(KServeHttpTest, ConcurrentClientsAllGetTheirOwnAnswers) {
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(server_->port());
      for (int i = 0; i < kEach; ++i) {
        const float v = static_cast<float>(t * 1000 + i);
        auto r = c.Post(kInferPath, JsonInfer(v));
        if (r.status == 200 && Parse(r)["outputs"][0]["data"][0] == v) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kEach);
}

// The default policy (trend) through the whole Server on the fake clock. A client that sends its
// next request when the last one is answered (closed loop, c = 1) finds the instance idle every
// time: its request runs at once, alone, with no time in the queue, however large the size the
// controller has reached and however long the wait cap (issue 14: trend used to wait out the cap
// for a batch it had sized but one client could not fill). Time moves only while a batch computes
// (a batch in flight, and every thread that waits on the clock parked), so it never moves while a
// request travels.
TEST_F(KServeHttpTest, TrendNeverWaitsForABatchThatOneClientCannotFill) {
  FakeClock& clock = clock_;
  FakeServerOptions o;
  o.policy = BatchPolicy::kTrend;
  o.max_queue_delay_micros = 50'000;  // a cap for the adaptive policies, never a wait
  o.engine.latency = std::chrono::milliseconds(1);
  o.engine.latency_per_sample = std::chrono::microseconds(250);
  StartOnFakeClock(o);
  // Idle: every thread of the server that waits on the clock is waiting (the count holds still).
  int idle = -1;
  for (int stable = 0; stable < 20; std::this_thread::sleep_for(std::chrono::milliseconds(5))) {
    stable = clock.waiters() == idle ? stable + 1 : 0;
    idle = clock.waiters();
  }
  Scheduler& scheduler = server_->server().scheduler();
  std::jthread pump([&](std::stop_token st) {
    while (!st.stop_requested()) {
      const bool computing =
          scheduler.ModelsJson().at(0).at("batching").at(0).at("in_flight_samples") != 0;
      if (!computing || clock.waiters() < idle || !clock.AdvanceToNextDeadline()) {
        std::this_thread::yield();
      }
    }
  });

  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(client_->Post(kInferPath, JsonInfer(1)).status, 200) << i;
  }
  pump.request_stop();
  pump.join();
  json s = Parse(client_->Get("/v2/models/tiny/stats"))["model_stats"][0];
  EXPECT_EQ(s["inference_count"], kRequests);
  EXPECT_EQ(s["execution_count"], kRequests);  // one batch each
  EXPECT_EQ(s["inference_stats"]["queue"]["ns"], 0);
  EXPECT_EQ(s["inference_stats"]["compute_infer"]["ns"], kRequests * 1'250'000);
  json b = Parse(client_->Get("/v2/batchwise/models"))["models"][0]["batching"][0];
  EXPECT_EQ(b["policy"], "trend");
  EXPECT_GT(b["batch_size"].get<int>(), 1);  // the size grew, and no request waited to fill it
}

// A request's latency counts from its header: the 30 ms its body took to come (a large tensor
// among many uploads) are in the end-to-end latency the controller sees, on the server's clock.
TEST_F(KServeHttpTest, TheTimeABodyTookToArriveIsInTheControllersLatency) {
  FakeServerOptions o;
  o.policy = BatchPolicy::kTrend;
  StartOnFakeClock(o);  // the fake engine computes in no time
  RawConnection c(server_->port());
  const std::string body = JsonInfer(1);
  ASSERT_TRUE(c.Send(std::string(kInferPath).insert(0, "POST ") +
                     " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Expect: 100-continue\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n"));
  auto go_on = c.ReadResponse();  // the header was read (and stamped)
  ASSERT_TRUE(go_on.has_value());
  ASSERT_EQ(go_on->status, 100);
  clock_.Advance(std::chrono::milliseconds(30));
  ASSERT_TRUE(c.Send(body));
  auto answer = c.ReadResponse();
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(answer->status, 200) << answer->body;
  json b = Parse(client_->Get("/v2/batchwise/models"))["models"][0]["batching"][0];
  EXPECT_DOUBLE_EQ(b["last_latency_ms"].get<double>(), 30.0);
}

TEST_F(KServeHttpTest, ConfigStatsAndBatchwiseViews) {
  ASSERT_EQ(client_->Post(kInferPath, JsonInfer(1, 3)).status, 200);
  auto config = client_->Get("/v2/models/tiny/config");
  ASSERT_EQ(config.status, 200) << config.body;
  json c = Parse(config);
  EXPECT_EQ(c["max_batch_size"], 8);
  EXPECT_EQ(c["input"][0]["data_type"], "TYPE_FP32");
  EXPECT_EQ(c["input"][0]["dims"], json({4}));
  auto stats = client_->Get("/v2/models/tiny/stats");
  ASSERT_EQ(stats.status, 200);
  json s = Parse(stats)["model_stats"][0];
  EXPECT_EQ(s["name"], "tiny");
  EXPECT_GE(s["inference_count"].get<int>(), 3);
  EXPECT_GE(s["inference_stats"]["success"]["count"].get<int>(), 1);
  EXPECT_EQ(client_->Get("/v2/models/stats").status, 200);
  EXPECT_EQ(client_->Get("/v2/models/nope/stats").status, 404);
  json models = Parse(client_->Get("/v2/batchwise/models"))["models"];
  ASSERT_EQ(models.size(), 1u);
  EXPECT_TRUE(models[0]["batching"][0].contains("z"));
  EXPECT_TRUE(models[0]["batching"][0].contains("settled"));
  const BatcherOptions defaults;  // the fixture's config sets no target and no batching section
  EXPECT_EQ(models[0]["state"], "READY");
  EXPECT_DOUBLE_EQ(models[0]["latency_target_ms"].get<double>(),
                   defaults.controller.latency_target_micros / 1000.0);
  EXPECT_DOUBLE_EQ(models[0]["required_throughput_per_s"].get<double>(), 0);
  EXPECT_EQ(models[0]["step_size"], defaults.controller.step_size);
  EXPECT_EQ(models[0]["trend_window"], defaults.controller.trend.window);
  EXPECT_DOUBLE_EQ(models[0]["trend_alpha"].get<double>(), defaults.controller.trend.alpha);
  EXPECT_EQ(models[0]["reversal_confirmations"], defaults.controller.trend.reversal_confirmations);
  EXPECT_EQ(models[0]["max_queue_delay_us"], 0);  // the fixture's ImmediateOptions
  json processors = Parse(client_->Get("/v2/batchwise/processors"))["processors"];
  EXPECT_EQ(processors.size(), 2u);
  EXPECT_TRUE(processors[0].contains("workload"));
  json placements = Parse(client_->Get("/v2/batchwise/placements?model=tiny"));
  EXPECT_EQ(placements["decisions"].size(), 1u);
}

TEST_F(KServeHttpTest, RepositoryIndexLoadAndUnload) {
  json index = Parse(client_->Post("/v2/repository/index", ""));
  ASSERT_EQ(index.size(), 2u);
  EXPECT_EQ(index[0]["name"], "spare");
  EXPECT_EQ(index[0]["state"], "UNAVAILABLE");
  EXPECT_EQ(index[1]["state"], "READY");
  EXPECT_EQ(Parse(client_->Post("/v2/repository/index", R"({"ready":true})")).size(), 1u);
  EXPECT_EQ(client_->Post("/v2/repository/models/spare/load", "").status, 200);
  EXPECT_EQ(client_->Get("/v2/models/spare/ready").status, 200);
  EXPECT_EQ(client_->Post("/v2/models/spare/infer", JsonInfer(4)).status, 200);
  EXPECT_EQ(client_->Post("/v2/repository/models/spare/unload", "").status, 200);
  EXPECT_EQ(client_->Get("/v2/models/spare/ready").status, 400);
  EXPECT_EQ(client_->Post("/v2/repository/models/missing/load", "").status, 404);
  EXPECT_EQ(client_->Post("/v2/repository/models/spare/unload", "").status, 404);
  EXPECT_EQ(client_->Post("/v2/repository/models/..%2F..%2Fetc/load", "").status, 400);
}

void WriteTinyConfig(const std::string& repository, const std::string& text) {
  std::ofstream(std::filesystem::path(repository) / "tiny" / "config.json") << text;
}

const char* kTinyWithMaxBatch4 = R"({"name": "tiny", "max_batch_size": 4,
  "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
  "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}],
  "engines": {"onnx": {"file": "model.onnx"}}})";

TEST_F(KServeHttpTest, BatchwiseModelsShowsTheBatchingKnobsOfEachModelsConfig) {
  WriteTinyConfig(server_->repository(), R"({"name": "tiny", "max_batch_size": 8,
    "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
    "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}],
    "engines": {"onnx": {"file": "model.onnx"}}, "latency_target_ms": 7.5,
    "batching": {"required_throughput_per_s": 2000, "step_size": 1, "trend_window": 8,
                 "trend_alpha": 0.2, "reversal_confirmations": 1,
                 "max_queue_delay_micros": 300}})");
  auto reload = client_->Post("/v2/repository/models/tiny/load", "");
  ASSERT_EQ(reload.status, 200) << reload.body;
  json m = Parse(client_->Get("/v2/batchwise/models"))["models"][0];
  EXPECT_EQ(m["state"], "READY");
  EXPECT_DOUBLE_EQ(m["latency_target_ms"].get<double>(), 7.5);
  EXPECT_DOUBLE_EQ(m["required_throughput_per_s"].get<double>(), 2000);
  EXPECT_EQ(m["step_size"], 1);
  EXPECT_EQ(m["trend_window"], 8);
  EXPECT_DOUBLE_EQ(m["trend_alpha"].get<double>(), 0.2);
  EXPECT_EQ(m["reversal_confirmations"], 1);
  EXPECT_EQ(m["max_queue_delay_us"], 300);
}

TEST_F(KServeHttpTest, AReloadWithAnUnknownBatchingKeyIsRefusedNamingItAndTheOldConfigServes) {
  WriteTinyConfig(server_->repository(), R"({"name": "tiny", "max_batch_size": 8,
    "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
    "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 2]}],
    "engines": {"onnx": {"file": "model.onnx"}}, "batching": {"trend_windw": 8}})");
  auto reload = client_->Post("/v2/repository/models/tiny/load", "");
  EXPECT_EQ(reload.status, 400);
  EXPECT_NE(reload.body.find("trend_windw"), std::string::npos) << reload.body;
  EXPECT_EQ(client_->Post(kInferPath, JsonInfer(1)).status, 200);
}

TEST_F(KServeHttpTest, ReloadingAServingModelKeepsItReadyAndThenServesTheNewConfig) {
  FakeServerOptions o;
  o.engine.latency = std::chrono::milliseconds(20);  // each batch, warm-up included
  Start(o);
  WriteTinyConfig(server_->repository(), kTinyWithMaxBatch4);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread client([&] {
    HttpClient c(server_->port());
    while (!stop.load()) {
      auto infer = c.Post(kInferPath, JsonInfer(2));
      auto ready = c.Get("/v2/models/tiny/ready");
      const bool good = infer.status == 200 && ready.status == 200;
      (good ? ok : failed).fetch_add(1);
      if (!good) ADD_FAILURE() << infer.status << " " << infer.body << " / " << ready.status;
    }
  });
  while (ok.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto reload = client_->Post("/v2/repository/models/tiny/load", "");
  const int after = ok.load();
  while (ok.load() < after + 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  client.join();
  EXPECT_EQ(reload.status, 200) << reload.body;
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(Parse(client_->Get("/v2/models/tiny/config"))["max_batch_size"], 4);
  EXPECT_EQ(client_->Post(kInferPath, JsonInfer(1, 8)).status, 400);  // above the new maximum
}

TEST_F(KServeHttpTest, AFailedReloadSaysWhyAndKeepsTheLoadedModelServing) {
  WriteTinyConfig(server_->repository(), R"({"name": "tiny", "max_batch_size": "many"})");
  auto reload = client_->Post("/v2/repository/models/tiny/load", "");
  EXPECT_EQ(reload.status, 400) << reload.body;
  EXPECT_NE(ErrorOf(reload).find("the loaded one keeps serving"), std::string::npos)
      << ErrorOf(reload);
  EXPECT_EQ(client_->Get("/v2/models/tiny/ready").status, 200);
  EXPECT_EQ(client_->Post(kInferPath, JsonInfer(1, 8)).status, 200);  // the old config
}

TEST_F(KServeHttpTest, RepositoryNeedsTheBearerTokenWhenOneIsSet) {
  FakeServerOptions o;
  o.admin_token = "s3cret";
  Start(o);
  auto no = client_->Post("/v2/repository/models/spare/load", "");
  EXPECT_EQ(no.status, 401);
  EXPECT_EQ(no.headers["www-authenticate"], "Bearer");
  EXPECT_EQ(
      client_->Post("/v2/repository/models/spare/load", "", {"Authorization: Bearer nope"}).status,
      401);
  EXPECT_EQ(client_->Post("/v2/repository/models/spare/load", "", {"Authorization: Bearer s3cret"})
                .status,
            200);
  EXPECT_EQ(client_->Post(kInferPath, JsonInfer(1)).status, 200);  // inference needs no token
}

// A load that fails reads a file under the repository; the answer names the file, not where the
// server keeps it (the log has the whole path).
TEST_F(KServeHttpTest, LoadErrorsDoNotShowServerPaths) {
  const std::string folder = server_->repository() + "/broken";
  std::filesystem::create_directories(folder);
  std::ofstream(folder + "/config.json") << "{ not json";
  auto r = client_->Post("/v2/repository/models/broken/load", "");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("config.json"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(server_->repository()), std::string::npos) << r.body;
}

TEST_F(KServeHttpTest, MetricsArePrometheusText) {
  FakeServerOptions o;
  o.metrics_port = 0;
  Start(o);
  ASSERT_EQ(client_->Post(kInferPath, JsonInfer(1)).status, 200);
  ASSERT_EQ(client_->Post(kInferPath, JsonInfer(2)).status, 200);
  ASSERT_EQ(client_->Post(kInferPath, "{").status, 400);
  HttpClient metrics(server_->server().metrics_port());
  auto m = metrics.Get("/metrics");
  ASSERT_EQ(m.status, 200) << m.error;
  for (const char* name :
       {"batchwise_http_requests_total", "batchwise_inference_requests_total",
        "batchwise_request_duration_seconds_bucket", "batchwise_inference_count_total",
        "batchwise_controller_z", "batchwise_controller_settled", "batchwise_processor_workload",
        "batchwise_processor_utilization", "batchwise_placement_moves_total"}) {
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  }
  // Each outcome and each status code in its own series.
  for (const char* series :
       {R"(batchwise_inference_requests_total{model="tiny",outcome="success"} 2)",
        R"(batchwise_inference_requests_total{model="tiny",outcome="failure"} 1)",
        R"(batchwise_http_requests_total{code="200",endpoint="infer"} 2)",
        R"(batchwise_http_requests_total{code="400",endpoint="infer"} 1)",
        R"(batchwise_request_duration_seconds_count{model="tiny"} 3)"}) {
    EXPECT_NE(m.body.find(series), std::string::npos) << series << "\n" << m.body;
  }
}

class KServeHttpGatedTest : public KServeHttpTest {
 protected:
  void SetUp() override {
    FakeServerOptions o;
    o.engine.gate = std::make_shared<Gate>();
    o.engine.fail_on_negative = true;
    o.max_queue_size = 8;
    Start(o);
  }

  // Sends in the background; the answer lands in *out.
  std::thread Send(std::string body, ClientResponse* out) {
    return std::thread([this, body = std::move(body), out] {
      HttpClient c(server_->port());
      *out = c.Post(kInferPath, body);
    });
  }
};

TEST_F(KServeHttpGatedTest, EngineFailureIs500ForThatRequestOnly) {
  auto bad = client_->Post(kInferPath, JsonInfer(-1));
  EXPECT_EQ(bad.status, 500) << bad.body;
  EXPECT_NE(ErrorOf(bad).find("fake engine failure"), std::string::npos);
  EXPECT_EQ(client_->Post(kInferPath, JsonInfer(1)).status, 200);
}

TEST_F(KServeHttpGatedTest, FullQueueIs503AtOnceAndTimeoutIs504) {
  gate_->Close();
  ClientResponse held, timed, full_batch;
  std::thread a = Send(JsonInfer(1), &held);
  gate_->WaitForWaiting(1);  // the batcher is busy with it
  std::thread b = Send(JsonInfer(2, 1, R"("parameters":{"timeout":1000})"), &timed);
  std::thread c = Send(JsonInfer(3, 7), &full_batch);  // 8 samples queued: the queue is full
  for (int i = 0;
       i < 500 &&
       server_->server().scheduler().ModelsJson()[0]["batching"][0]["queued_samples"] < 8;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto refused = client_->Post(kInferPath, JsonInfer(4));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  gate_->Open();
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(held.status, 200);
  EXPECT_EQ(timed.status, 504) << timed.body;
  EXPECT_EQ(full_batch.status, 200);
}

// A client that waits for "100 Continue" before sending its tensors is refused from its header
// when the model's queue cannot take a request: 503 instead of the 100, the body never read, the
// connection closed, the refusal counted. Once the queue drains, the same request is let in.
TEST_F(KServeHttpGatedTest, AClientWaitingFor100ContinueIsRefusedBeforeItsUpload) {
  gate_->Close();
  ClientResponse held, queued;
  std::thread a = Send(JsonInfer(1), &held);
  gate_->WaitForWaiting(1);  // the batcher is busy with it
  std::thread b = Send(JsonInfer(2, 8), &queued);  // 8 samples queued: the queue is full
  for (int i = 0;
       i < 500 &&
       server_->server().scheduler().ModelsJson()[0]["batching"][0]["queued_samples"] < 8;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const std::string body = JsonInfer(3);
  const std::string head = std::string("POST ") + kInferPath +
                           " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                           "Expect: 100-continue\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  RawConnection refused(server_->port());
  ASSERT_TRUE(refused.Send(head));
  auto early = refused.ReadResponse();
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->status, 503) << early->body;
  EXPECT_NE(early->body.find("queue full"), std::string::npos) << early->body;
  EXPECT_NE(early->header.find("connection: close"), std::string::npos) << early->header;
  refused.Send(body);  // a client that sends it anyway: never read as a request
  EXPECT_TRUE(refused.ClosedWithNothingMore());
  json stats = Parse(client_->Get("/v2/models/tiny/stats"))["model_stats"][0];
  EXPECT_EQ(stats["failure_reasons"]["REJECTED"], 1);

  gate_->Open();
  a.join();
  b.join();
  EXPECT_EQ(held.status, 200);
  EXPECT_EQ(queued.status, 200);
  RawConnection admitted(server_->port());
  ASSERT_TRUE(admitted.Send(head));
  auto go_on = admitted.ReadResponse();
  ASSERT_TRUE(go_on.has_value());
  EXPECT_EQ(go_on->status, 100);
  ASSERT_TRUE(admitted.Send(body));
  auto answer = admitted.ReadResponse();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200) << answer->body;
}

TEST_F(KServeHttpGatedTest, ShutdownAnswersEveryAcceptedRequest) {
  gate_->Close();
  constexpr int kClients = 6;
  std::vector<ClientResponse> answers(kClients);
  std::vector<std::thread> clients;
  clients.push_back(Send(JsonInfer(0), &answers[0]));
  gate_->WaitForWaiting(1);
  for (int i = 1; i < kClients; ++i)
    clients.push_back(Send(JsonInfer(static_cast<float>(i)), &answers[i]));
  for (int i = 0;
       i < 500 && server_->server().scheduler().ModelsJson()[0]["batching"][0]["queued_samples"] <
                      kClients - 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::thread stopper([this] { server_->Shutdown(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate_->Open();
  stopper.join();
  for (auto& t : clients) t.join();
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(answers[i].status, 200) << i << ": " << answers[i].error << answers[i].body;
    if (answers[i].status == 200) EXPECT_EQ(Parse(answers[i])["outputs"][0]["data"][0], i);
  }
  EXPECT_EQ(HttpClient(server_->port()).Get("/v2").status, 0);  // no longer accepting
}

}  // namespace
}  // namespace batchwise
