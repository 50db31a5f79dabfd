// The InferenceService seen through both adapters: what it holds once (the server's readiness
// with its reason, the per-model outcome metrics, Triton's configuration) is what HTTP and gRPC
// both answer. A real Server (fake engines over a temporary repository) with both endpoints open.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"
#include "grpc_service.grpc.pb.h"
#include "service/inference_service.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: the fixtures
using nlohmann::json;

constexpr const char* kHttpInfer = "/v2/models/tiny/infer";
constexpr const char* kJsonInfer =
    R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,0,0,0]}]})";

inference::ModelInferRequest GrpcInfer(const std::string& datatype = "FP32") {
  inference::ModelInferRequest r;
  r.set_model_name("tiny");
  auto* x = r.add_inputs();
  x->set_name("x");
  x->set_datatype(datatype);
  x->add_shape(1);
  x->add_shape(4);
  std::vector<float> v = {1, 0, 0, 0};
  r.add_raw_input_contents(
      std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  return r;
}

class BothProtocols {
 public:
  explicit BothProtocols(FakeServerOptions o) {
    o.grpc_port = 0;
    server_ = std::make_unique<FakeModelServer>(o);
    http_ = std::make_unique<HttpClient>(server_->port());
    stub_ = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
  }
  Server& server() { return server_->server(); }
  HttpClient& http() { return *http_; }
  inference::GRPCInferenceService::Stub& grpc() { return *stub_; }
  static std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ctx;
  }

 private:
  std::unique_ptr<FakeModelServer> server_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

// A failed load makes the service unready, with a reason; HTTP answers that reason and gRPC the
// same readiness. Unloading the model (through gRPC) makes both ready again.
TEST(InferenceServiceTest, NotReadyReasonIsWhatBothProtocolsAnswer) {
  FakeServerOptions o;
  o.models = {"tiny", "spare"};
  o.engine.fail_load = [](const ModelConfig& c) { return c.name == "spare"; };
  BothProtocols p(o);
  const std::string why = p.server().service().NotReadyReason();
  ASSERT_NE(why.find("model 'spare' failed to load"), std::string::npos) << why;

  ClientResponse http = p.http().Get("/v2/health/ready");
  EXPECT_EQ(http.status, 503);
  EXPECT_EQ(json::parse(http.body, nullptr, false).value("error", ""), why) << http.body;
  inference::ServerReadyResponse ready;
  ASSERT_TRUE(p.grpc().ServerReady(BothProtocols::Context().get(), {}, &ready).ok());
  EXPECT_FALSE(ready.ready());

  inference::RepositoryModelUnloadRequest unload;
  unload.set_model_name("spare");
  inference::RepositoryModelUnloadResponse unloaded;
  ASSERT_TRUE(
      p.grpc().RepositoryModelUnload(BothProtocols::Context().get(), unload, &unloaded).ok());
  EXPECT_EQ(p.server().service().NotReadyReason(), "");
  EXPECT_EQ(p.http().Get("/v2/health/ready").status, 200);
  ASSERT_TRUE(p.grpc().ServerReady(BothProtocols::Context().get(), {}, &ready).ok());
  EXPECT_TRUE(ready.ready());
}

// RecordInferOutcome counts every inference request once, served or refused, whichever protocol
// it came by: two served and two refused (one each way) are 2 successes, 2 failures, 4 durations.
TEST(InferenceServiceTest, OutcomeMetricsCountOncePerRequestOverHttpAndGrpc) {
  BothProtocols p(FakeServerOptions{});
  ASSERT_EQ(p.http().Post(kHttpInfer, kJsonInfer).status, 200);
  ASSERT_EQ(p.http().Post(kHttpInfer, "{").status, 400);
  inference::ModelInferResponse out;
  ASSERT_TRUE(p.grpc().ModelInfer(BothProtocols::Context().get(), GrpcInfer(), &out).ok());
  EXPECT_EQ(
      p.grpc().ModelInfer(BothProtocols::Context().get(), GrpcInfer("INT32"), &out).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  const std::string scrape = p.server().metrics().Scrape();
  for (const char* series :
       {R"(batchwise_inference_requests_total{model="tiny",outcome="success"} 2)",
        R"(batchwise_inference_requests_total{model="tiny",outcome="failure"} 2)",
        R"(batchwise_request_duration_seconds_count{model="tiny"} 4)"}) {
    EXPECT_NE(scrape.find(series), std::string::npos) << series << "\n" << scrape;
  }
}

// Triton's configuration is built once, as data: HTTP's JSON and gRPC's message carry the same
// values (the message's enums by Triton's names).
TEST(InferenceServiceTest, TritonConfigIsTheSameOverHttpAndGrpc) {
  BothProtocols p(FakeServerOptions{});
  auto data = p.server().service().TritonConfig("tiny");
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  ClientResponse http = p.http().Get("/v2/models/tiny/config");
  ASSERT_EQ(http.status, 200) << http.body;
  const json j = json::parse(http.body);
  inference::ModelConfigRequest req;
  req.set_name("tiny");
  inference::ModelConfigResponse grpc;
  ASSERT_TRUE(p.grpc().ModelConfig(BothProtocols::Context().get(), req, &grpc).ok());
  const inference::ModelConfig& g = grpc.config();

  EXPECT_EQ(j["name"], data->name);
  EXPECT_EQ(g.name(), data->name);
  EXPECT_EQ(j["platform"], g.platform());
  EXPECT_EQ(j["backend"], g.backend());
  EXPECT_EQ(j["max_batch_size"], g.max_batch_size());
  EXPECT_EQ(g.max_batch_size(), 8);
  ASSERT_EQ(j["input"].size(), 1u);
  ASSERT_EQ(g.input_size(), 1);
  EXPECT_EQ(j["input"][0]["name"], g.input(0).name());
  EXPECT_EQ(j["input"][0]["data_type"], inference::DataType_Name(g.input(0).data_type()));
  EXPECT_EQ(g.input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(j["input"][0]["dims"],
            json(std::vector<int64_t>(g.input(0).dims().begin(), g.input(0).dims().end())));
  EXPECT_EQ(j["input"][0]["dims"], json({4}));  // without the batch dimension
  ASSERT_EQ(j["instance_group"].size(), static_cast<size_t>(g.instance_group_size()));
  ASSERT_GE(g.instance_group_size(), 1);
  EXPECT_EQ(j["instance_group"][0]["kind"],
            inference::ModelInstanceGroup::Kind_Name(g.instance_group(0).kind()));
  EXPECT_EQ(j["version_policy"]["latest"]["num_versions"],
            g.version_policy().latest().num_versions());
  EXPECT_TRUE(g.has_dynamic_batching());
  EXPECT_EQ(j["parameters"]["batchwise_kind"]["string_value"],
            g.parameters().at("batchwise_kind").string_value());
}

}  // namespace
}  // namespace batchwise
