// Infer requests built from metadata, and the load generator end to end against a real Server
// (fake engines): every request answered, counted once, and the controller state sampled.
#include "loadgen/kserve_load.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "frontend/testing/server_fixture.h"
#include "loadgen/arrivals.h"

namespace batchwise {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

json Metadata() {
  return json::parse(R"({"name":"m","inputs":[
      {"name":"x","datatype":"FP32","shape":[-1,4]},
      {"name":"k","datatype":"INT64","shape":[-1]}]})");
}

TEST(BuildInferRequestTest, BinaryInputsOfTheDeclaredShapesAtTheBatchSize) {
  auto r = BuildInferRequest(Metadata(), 3, 7);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->target, "/v2/models/m/infer");
  json header = json::parse(r->body->substr(0, r->json_size));
  ASSERT_EQ(header["inputs"].size(), 2u);
  EXPECT_EQ(header["inputs"][0]["shape"], json::array({3, 4}));
  EXPECT_EQ(header["inputs"][0]["parameters"]["binary_data_size"], 48);
  EXPECT_EQ(header["inputs"][1]["shape"], json::array({3}));
  EXPECT_EQ(header["inputs"][1]["parameters"]["binary_data_size"], 24);
  EXPECT_TRUE(header["parameters"]["binary_data_output"].get<bool>());
  EXPECT_EQ(r->body->size(), r->json_size + 72);
  // Seeded: the same seed gives the same bytes, another seed other bytes.
  EXPECT_EQ(*BuildInferRequest(Metadata(), 3, 7)->body, *r->body);
  EXPECT_NE(*BuildInferRequest(Metadata(), 3, 8)->body, *r->body);
}

TEST(BuildInferRequestTest, RefusesBytesInputsBadBatchAndBadMetadata) {
  json bytes =
      json::parse(R"({"name":"m","inputs":[{"name":"s","datatype":"BYTES","shape":[-1]}]})");
  EXPECT_EQ(BuildInferRequest(bytes, 1, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildInferRequest(Metadata(), 0, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildInferRequest(json::parse(R"({"name":"m"})"), 1, 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(LoadTimeSeriesTest, WindowsByIntendedSendTime) {
  TimePoint start{};
  LoadTimeSeries series(start, milliseconds(100), milliseconds(10));
  series.Record(start + milliseconds(5), start + milliseconds(10), Status::Ok());    // 5 ms
  series.Record(start + milliseconds(95), start + milliseconds(150), Status::Ok());  // 55 ms
  series.Record(start + milliseconds(250), start + milliseconds(251), Unavailable("full"));
  auto w = series.Take();
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].ok, 2u);
  EXPECT_EQ(w[0].within_slo, 1u);
  EXPECT_EQ(w[1].ok, 0u);
  EXPECT_EQ(w[2].errors, 1u);
  EXPECT_DOUBLE_EQ(w[2].t_s, 0.2);
}

TEST(KServeLoadTest, OpenLoopAgainstARealServerAnswersEveryRequestOnce) {
  testing::FakeModelServer server;
  HttpClient::Options co;
  co.port = server.port();
  auto client = HttpClient::Create(co);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(PrepareInferRequest(**client, "nope", 1, 1).status().code(), StatusCode::kNotFound);
  auto request = PrepareInferRequest(**client, "tiny", 1, 1);
  ASSERT_TRUE(request.ok()) << request.status();

  Clock& clock = SystemClock();
  const TimePoint start = clock.Now();
  LoadTimeSeries series(start, milliseconds(100), milliseconds(500));
  DriverOptions o;
  o.slo = milliseconds(500);
  o.on_complete = [&](TimePoint i, TimePoint d, const Status& s) { series.Record(i, d, s); };
  ArrivalGenerator arrivals(*RateSchedule::Parse("300ms@500"), ArrivalProcess::kConstant, 1);
  OpenLoopResult r;
  std::vector<ControllerPoller::Sample> samples;
  {
    ControllerPoller poller(clock, **client, start, milliseconds(50));
    r = RunOpenLoop(clock, arrivals, InferSender(**client, *request), o);
    poller.Stop();
    samples = poller.samples();
  }
  EXPECT_EQ(r.total.sent, 150u);
  EXPECT_EQ(r.total.ok, 150u) << r.total.ToJson().dump();
  uint64_t in_series = 0;
  for (const auto& w : series.Take()) in_series += w.ok;
  EXPECT_EQ(in_series, 150u);
  ASSERT_FALSE(samples.empty());
  EXPECT_EQ(samples.front().model, "tiny");
  EXPECT_GE(samples.front().batch_size, 1);
  EXPECT_LT((*client)->connections_opened(), 150u);  // kept alive
}

}  // namespace
}  // namespace batchwise
