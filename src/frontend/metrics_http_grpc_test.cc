// The metrics port after real requests: Batchwise's families and Triton's (nv_*) scraped over HTTP
// from a real Server (fake engines, fake clock) that answered requests over HTTP and gRPC. The test
// moves the clock itself, one phase at a time (the queue delay, then the engine's latency), so
// every duration is known exactly.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "metrics/metrics.h"
#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"
#include "grpc_service.grpc.pb.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: the fixtures
using nlohmann::json;
using std::chrono::microseconds;

constexpr microseconds kQueueDelay{3000};  // queue_delay policy: a lone request waits this long
constexpr microseconds kLatency{2000};     // the fake engine, per batch
constexpr microseconds kPerSample{500};    // and per sample

// `timeout_us` > 0: the request's queue timeout (KServe's "timeout" parameter).
std::string JsonInfer(float first, int batch, int timeout_us = 0) {
  json data = json::array();
  for (int i = 0; i < batch * 4; ++i) data.push_back(i % 4 == 0 ? first : 0.0f);
  json j = {
      {"inputs", {{{"name", "x"}, {"datatype", "FP32"}, {"shape", {batch, 4}}, {"data", data}}}}};
  if (timeout_us > 0) j["parameters"] = {{"timeout", timeout_us}};
  return j.dump();
}

inference::ModelInferRequest GrpcInfer(int batch) {
  inference::ModelInferRequest r;
  r.set_model_name("tiny");
  auto* x = r.add_inputs();
  x->set_name("x");
  x->set_datatype("FP32");
  x->add_shape(batch);
  x->add_shape(4);
  std::vector<float> v(batch * 4, 1.0f);
  r.add_raw_input_contents(std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  return r;
}

// The value of the series written exactly as `series` (name and labels); NaN if absent.
double Value(const std::string& scrape, const std::string& series) {
  std::istringstream in(scrape);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nan("");
}

class MetricsScrapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeServerOptions o;
    o.clock = &clock_;
    o.warmup_batches = 0;
    o.metrics_port = 0;
    o.grpc_port = 0;
    o.policy = BatchPolicy::kQueueDelay;  // batches of up to 8: a lone request waits the delay
    o.max_queue_delay_micros = kQueueDelay.count();
    o.engine.latency = kLatency;
    o.engine.latency_per_sample = kPerSample;
    o.engine.fail_on_negative = true;
    o.gpus = [] { return std::vector<GpuGauges>{{"GPU-test-0", 0.25, 3 << 20, 16 << 20}}; };
    server_ = std::make_unique<FakeModelServer>(o);
    idle_ = StableWaiters();
  }

  // The number of threads waiting on the clock once it holds still for 20 polls.
  int StableWaiters() const {
    int n = -1;
    for (int stable = 0; stable < 20; std::this_thread::sleep_for(std::chrono::milliseconds(1))) {
      stable = clock_.waiters() == n ? stable + 1 : 0;
      n = clock_.waiters();
    }
    return n;
  }

  // Moves the clock once every thread that waits on it when idle waits again.
  void Step(Duration d) {
    while (StableWaiters() != idle_) {
    }
    clock_.Advance(d);
  }

  json Batching() const {
    return server_->server().scheduler().ModelsJson().at(0).at("batching").at(0);
  }

  void WaitFor(const char* field, int samples) const {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (Batching().at(field) != samples) {
      ASSERT_LT(std::chrono::steady_clock::now(), give_up) << field << " never " << samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Runs `send` on another thread and walks its request of `samples` through the queue delay and
  // the engine's latency.
  template <typename Send>
  void Drive(Send send, int samples) {
    std::thread client(send);
    WaitFor("queued_samples", samples);
    Step(kQueueDelay);
    WaitFor("in_flight_samples", samples);
    Step(kLatency + samples * kPerSample);
    client.join();
  }

  void HttpInfer(float first, int batch, int expect_status) {
    Drive(
        [&] {
          HttpClient c(server_->port());
          EXPECT_EQ(c.Post("/v2/models/tiny/infer", JsonInfer(first, batch)).status, expect_status);
        },
        batch);
  }

  void GrpcInferOk(int batch) {
    auto stub = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
    Drive(
        [&] {
          grpc::ClientContext ctx;
          inference::ModelInferResponse resp;
          EXPECT_TRUE(stub->ModelInfer(&ctx, GrpcInfer(batch), &resp).ok());
        },
        batch);
  }

  FakeClock clock_;
  std::unique_ptr<FakeModelServer> server_;
  int idle_ = -1;
};

TEST_F(MetricsScrapeTest, BothFamiliesCountHttpAndGrpcRequestsWithTheirFakeClockDurations) {
  for (int i = 0; i < 3; ++i) HttpInfer(1.0f, 2, 200);  // 3 requests of 2 samples
  for (int i = 0; i < 2; ++i) GrpcInferOk(3);           // 2 requests of 3 samples
  HttpInfer(-1.0f, 1, 500);                             // the engine fails it
  HttpClient http(server_->port());
  std::thread expires([&] {  // waits past its 1 ms timeout in the queue
    EXPECT_NE(
        HttpClient(server_->port()).Post("/v2/models/tiny/infer", JsonInfer(1, 1, 1000)).status,
        200);
  });
  WaitFor("queued_samples", 1);
  Step(microseconds(1000));
  expires.join();

  auto scrape = HttpClient(server_->server().metrics_port()).Get("/metrics");
  ASSERT_EQ(scrape.status, 200) << scrape.error;
  const std::string& m = scrape.body;
  const std::string tiny = R"({model="tiny",version="1"})";
  EXPECT_EQ(Value(m, "nv_inference_request_success" + tiny), 5) << m;
  EXPECT_EQ(Value(m, R"(nv_inference_request_failure{model="tiny",version="1",reason="BACKEND"})"),
            1);
  EXPECT_EQ(Value(m, R"(nv_inference_request_failure{model="tiny",version="1",reason="REJECTED"})"),
            1);
  EXPECT_EQ(Value(m, "nv_inference_count" + tiny), 3 * 2 + 2 * 3);
  EXPECT_EQ(Value(m, "nv_inference_exec_count" + tiny), 5);  // one batch each

  // Microseconds; each request waited the delay and then ran alone in its batch.
  const double queue = Value(m, "nv_inference_queue_duration_us" + tiny);
  const double input = Value(m, "nv_inference_compute_input_duration_us" + tiny);
  const double infer = Value(m, "nv_inference_compute_infer_duration_us" + tiny);
  const double output = Value(m, "nv_inference_compute_output_duration_us" + tiny);
  EXPECT_EQ(queue, 5 * 3000);
  EXPECT_EQ(infer, 3 * (2000 + 2 * 500) + 2 * (2000 + 3 * 500));
  EXPECT_EQ(input, 0);  // the fake clock does not move while inputs are joined
  EXPECT_EQ(output, 0);
  EXPECT_EQ(Value(m, "nv_inference_request_duration_us" + tiny), queue + input + infer + output);

  // The same statistics in Batchwise's own units, and the frontend's per-protocol counts.
  EXPECT_EQ(Value(m, R"(batchwise_inference_count_total{model="tiny"})"), 12);
  EXPECT_EQ(Value(m, R"(batchwise_queue_duration_seconds_total{model="tiny"})"), 0.015);
  EXPECT_EQ(Value(m, R"(batchwise_inference_requests_total{model="tiny",outcome="success"})"), 5);
  EXPECT_EQ(Value(m, R"(batchwise_inference_requests_total{model="tiny",outcome="failure"})"), 2);
  EXPECT_EQ(Value(m, R"(batchwise_grpc_requests_total{code="OK",method="ModelInfer"})"), 2);
  EXPECT_EQ(Value(m, R"(batchwise_http_requests_total{code="200",endpoint="infer"})"), 3);

  // The GPU gauges, from the source the server was given.
  EXPECT_EQ(Value(m, R"(nv_gpu_utilization{gpu_uuid="GPU-test-0"})"), 0.25);
  EXPECT_EQ(Value(m, R"(nv_gpu_memory_used_bytes{gpu_uuid="GPU-test-0"})"), 3 << 20);
  EXPECT_EQ(Value(m, R"(nv_gpu_memory_total_bytes{gpu_uuid="GPU-test-0"})"), 16 << 20);

  // The statistics extension agrees: compute durations count once per request of the batch.
  json s = json::parse(http.Get("/v2/models/tiny/stats").body)["model_stats"][0];
  EXPECT_EQ(s["inference_stats"]["compute_infer"]["ns"], infer * 1000);
  EXPECT_EQ(s["inference_stats"]["queue"]["count"], 5);
}

TEST_F(MetricsScrapeTest, EveryFamilyIsInTheCatalogueWithItsType) {
  HttpInfer(1.0f, 1, 200);
  GrpcInferOk(1);  // a family of per-request series shows once it has one
  const std::string m = HttpClient(server_->server().metrics_port()).Get("/metrics").body;
  for (const MetricInfo& info : MetricCatalogue()) {
    EXPECT_NE(m.find("# TYPE " + info.name + " " + info.type + "\n"), std::string::npos)
        << info.name << " (" << info.type << ") is not in the scrape:\n"
        << m;
  }
}

// Every PromQL expression of a Grafana dashboard (panels' targets and query variables).
void CollectExprs(const json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const char* key : {"expr", "definition"}) {
      if (j.contains(key) && j[key].is_string()) out.push_back(j[key]);
    }
    for (const auto& [k, v] : j.items()) CollectExprs(v, out);
  } else if (j.is_array()) {
    for (const auto& v : j) CollectExprs(v, out);
  }
}

TEST_F(MetricsScrapeTest, EveryMetricTheGrafanaDashboardQueriesIsExported) {
  std::ifstream in(std::string(BATCHWISE_SOURCE_DIR) + "/docs/grafana/batchwise.json");
  ASSERT_TRUE(in) << "docs/grafana/batchwise.json";
  const json d = json::parse(in);
  // A Prometheus datasource variable that every panel queries through.
  const json& vars = d.at("templating").at("list");
  ASSERT_FALSE(vars.empty());
  EXPECT_EQ(vars[0].at("type"), "datasource");
  EXPECT_EQ(vars[0].at("query"), "prometheus");
  const std::string ds = "${" + vars[0].at("name").get<std::string>() + "}";
  for (const json& p : d.at("panels")) {
    if (p.at("type") != "row") EXPECT_EQ(p.at("datasource").at("uid"), ds) << p.at("title");
  }

  HttpInfer(1.0f, 1, 200);
  const std::string m = HttpClient(server_->server().metrics_port()).Get("/metrics").body;
  std::vector<std::string> exprs;
  CollectExprs(d, exprs);
  std::set<std::string> queried;
  const std::regex name(R"(\b(nv|batchwise)_[a-z_]+)");
  for (const std::string& e : exprs) {
    for (std::sregex_iterator it(e.begin(), e.end(), name), end; it != end; ++it) {
      queried.insert(it->str());
    }
  }
  for (const std::string& q : queried) {
    EXPECT_NE(m.find("# TYPE " + q + " "), std::string::npos) << q << " is not exported";
  }
  // It plots what it is for: Triton's rates and latencies, the controller, placement.
  for (const char* needed :
       {"nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count",
        "nv_inference_exec_count", "nv_inference_request_duration_us",
        "nv_inference_queue_duration_us", "nv_inference_compute_infer_duration_us",
        "batchwise_controller_batch_size", "batchwise_controller_z", "batchwise_controller_settled",
        "batchwise_processor_workload"}) {
    EXPECT_TRUE(queried.contains(needed)) << needed;
  }
}

}  // namespace
}  // namespace batchwise
