// The load generator's gRPC client against a real Server with fake engines: many calls in flight
// from one sender, the same seeded request as over HTTP, errors as the server's status codes,
// cancellation on destruction, and the closed-loop driver over it.
#include "loadgen/grpc_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>

#include "frontend/testing/server_fixture.h"
#include "grpc_service.pb.h"
#include "loadgen/kserve_load.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: the fixtures
using nlohmann::json;

// Counts completions; waits for a number of them.
class Completions {
 public:
  void Add(const Status& s) {
    std::lock_guard<std::mutex> l(mu_);
    ++counts_[std::string(StatusCodeName(s.code()))];
    ++total_;
    cv_.notify_all();
  }
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(20), [&] { return total_ >= n; });
  }
  int count(const std::string& code) {
    std::lock_guard<std::mutex> l(mu_);
    return counts_[code];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> counts_;
  int total_ = 0;
};

class GrpcClientTest : public ::testing::Test {
 protected:
  void Start(FakeServerOptions o = {}) {
    o.grpc_port = 0;
    gate_ = o.engine.gate;
    server_ = std::make_unique<FakeModelServer>(o);
    client_ = Client();
  }
  void SetUp() override { Start(); }
  void TearDown() override {
    if (gate_) gate_->Open();
  }
  std::unique_ptr<GrpcClient> Client(int channels = 2) {
    GrpcClient::Options o;
    o.target = "127.0.0.1:" + std::to_string(server_->grpc_port());
    o.channels = channels;
    auto c = GrpcClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(c).value();
  }

  std::shared_ptr<Gate> gate_;
  std::unique_ptr<FakeModelServer> server_;
  std::unique_ptr<GrpcClient> client_;
};

TEST_F(GrpcClientTest, MetadataIsTheHttpEndpointsJson) {
  auto m = client_->ModelMetadata("tiny");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)["name"], "tiny");
  EXPECT_EQ((*m)["inputs"][0]["name"], "x");
  EXPECT_EQ((*m)["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ((*m)["inputs"][0]["shape"], json({-1, 4}));
  EXPECT_EQ(client_->ModelMetadata("nope").status().code(), StatusCode::kNotFound);
  auto ready = client_->ServerReady();
  ASSERT_TRUE(ready.ok());
  EXPECT_TRUE(*ready);
}

TEST_F(GrpcClientTest, RequestCarriesTheSameSeededBytesAsHttp) {
  const json metadata = *client_->ModelMetadata("tiny");
  auto g = BuildGrpcInferRequest(metadata, 3, 11);
  ASSERT_TRUE(g.ok()) << g.status();
  auto h = BuildInferRequest(metadata, 3, 11);
  ASSERT_TRUE(h.ok());
  const inference::ModelInferRequest& r = **g;
  EXPECT_EQ(r.model_name(), "tiny");
  ASSERT_EQ(r.inputs_size(), 1);
  EXPECT_EQ(r.inputs(0).name(), "x");
  EXPECT_EQ(r.inputs(0).shape(0), 3);
  EXPECT_EQ(r.inputs(0).shape(1), 4);
  ASSERT_EQ(r.raw_input_contents_size(), 1);
  EXPECT_EQ(r.raw_input_contents(0), h->body->substr(h->json_size));
  EXPECT_EQ(r.raw_input_contents(0).size(), 3u * 4 * sizeof(float));
}

TEST_F(GrpcClientTest, OneSenderKeepsManyCallsInFlight) {
  gate_ = std::make_shared<Gate>();
  FakeServerOptions o;
  o.engine.gate = gate_;
  o.latency_target_micros = 60'000'000;  // the calls queue behind the gate: none is refused
  Start(o);
  gate_->Close();
  auto req = PrepareGrpcInferRequest(*client_, "tiny", 1, 1);
  ASSERT_TRUE(req.ok()) << req.status();
  constexpr int kCalls = 20;
  Completions done;
  for (int i = 0; i < kCalls; ++i) client_->Infer(*req, [&](Status s, auto) { done.Add(s); });
  // All sent without waiting: the engine holds the first batch, the rest queue at the server.
  gate_->WaitForWaiting(1);
  for (int i = 0; i < 1000; ++i) {
    const int64_t queued =
        server_->server().scheduler().ModelsJson()[0]["batching"][0]["queued_samples"];
    if (queued >= kCalls - 8) break;  // at most one batch of 8 is with the engine
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_GE(
      server_->server().scheduler().ModelsJson()[0]["batching"][0]["queued_samples"].get<int64_t>(),
      kCalls - 8);
  gate_->Open();
  ASSERT_TRUE(done.WaitFor(kCalls));
  EXPECT_EQ(done.count("OK"), kCalls) << "UNAVAILABLE " << done.count("UNAVAILABLE")
                                      << ", DEADLINE_EXCEEDED " << done.count("DEADLINE_EXCEEDED");
}

TEST_F(GrpcClientTest, ResponsesAndErrorsComeBackAsTheServersStatus) {
  auto req = PrepareGrpcInferRequest(*client_, "tiny", 2, 5);
  ASSERT_TRUE(req.ok()) << req.status();
  Completions done;
  std::shared_ptr<const inference::ModelInferResponse> got;
  client_->Infer(*req, [&](Status s, std::shared_ptr<const inference::ModelInferResponse> r) {
    got = std::move(r);
    done.Add(s);
  });
  ASSERT_TRUE(done.WaitFor(1));
  ASSERT_EQ(done.count("OK"), 1);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->outputs(0).shape(0), 2);
  auto bad = std::make_shared<inference::ModelInferRequest>(**req);
  bad->set_model_name("nope");
  client_->Infer(bad, [&](Status s, auto r) {
    EXPECT_EQ(r, nullptr);
    done.Add(s);
  });
  ASSERT_TRUE(done.WaitFor(2));
  EXPECT_EQ(done.count("NOT_FOUND"), 1);
}

TEST_F(GrpcClientTest, UnreachableServerIsUnavailable) {
  GrpcClient::Options o;
  o.target = "127.0.0.1:1";  // nothing listens there
  o.timeout_ms = 5000;
  auto c = GrpcClient::Create(o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->ModelMetadata("tiny").status().code(), StatusCode::kUnavailable);
  o.target = "no-port";
  EXPECT_EQ(GrpcClient::Create(o).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(GrpcClientTest, DestructorCancelsCallsInFlight) {
  gate_ = std::make_shared<Gate>();
  FakeServerOptions o;
  o.engine.gate = gate_;
  Start(o);
  auto req = PrepareGrpcInferRequest(*client_, "tiny", 1, 1);
  ASSERT_TRUE(req.ok());
  gate_->Close();
  Completions done;
  client_->Infer(*req, [&](Status s, auto) { done.Add(s); });
  gate_->WaitForWaiting(1);
  client_.reset();  // returns once the callback ran
  EXPECT_EQ(done.count("CANCELLED"), 1);
  gate_->Open();
}

TEST_F(GrpcClientTest, ClosedLoopDriverRunsOverGrpc) {
  auto req = PrepareGrpcInferRequest(*client_, "tiny", 1, 3);
  ASSERT_TRUE(req.ok());
  DriverOptions o;
  o.slo = std::chrono::seconds(1);
  LoadReport r = RunClosedLoop(SystemClock(), 4, std::chrono::milliseconds(300),
                               GrpcInferSender(*client_, *req), o);
  EXPECT_GT(r.ok, 10u);
  EXPECT_EQ(r.ok, r.sent);
  EXPECT_TRUE(r.errors.empty());
  auto stats = server_->server().scheduler().StatsJson("tiny");
  ASSERT_TRUE(stats.ok());
  EXPECT_GE((*stats)["model_stats"][0]["inference_count"].get<uint64_t>(), r.ok);
}

}  // namespace
}  // namespace batchwise
