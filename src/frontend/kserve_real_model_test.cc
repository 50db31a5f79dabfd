// `batchwise serve`'s Server on the generated mlp_forecaster with the production engine factory:
// the reference outputs through HTTP, JSON and binary (skipped when models are not generated).
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "backend/testing/model_repo.h"
#include "app/server.h"
#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: helpers
using nlohmann::json;

class KServeRealModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mlp = LoadReferenceModel("mlp_forecaster");
    if (!mlp.ok()) GTEST_SKIP() << NoModelsMessage(mlp.status());
    ref_ = *mlp;
    auto s = Server::Create(RealMlpServerOptions("bw_http_tables"), SystemClock());
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(s).value();
    ASSERT_TRUE(server_->load_failures().empty()) << server_->load_failures()[0];
  }

  void ExpectReference(std::span<const float> got) {
    const auto want = ref_.ref_outputs[0].as<float>();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << i;
  }

  ReferenceModel ref_;
  std::unique_ptr<Server> server_;
};

TEST_F(KServeRealModelTest, JsonRequestGetsTheReferenceOutputs) {
  const Tensor& in = ref_.ref_inputs[0];
  const auto v = in.as<float>();
  json req = {{"inputs",
               {{{"name", ref_.inputs[0].name},
                 {"datatype", "FP32"},
                 {"shape", in.shape()},
                 {"data", std::vector<float>(v.begin(), v.end())}}}}};
  HttpClient c(server_->http_port());
  auto r = c.Post("/v2/models/mlp_forecaster/infer", req.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["outputs"][0]["shape"], json(ref_.ref_outputs[0].shape()));
  const auto got = j["outputs"][0]["data"].get<std::vector<float>>();
  ExpectReference(got);
}

TEST_F(KServeRealModelTest, BinaryRequestGetsTheReferenceOutputs) {
  const Tensor& in = ref_.ref_inputs[0];
  size_t json_size = 0;
  std::vector<long> shape(in.shape().begin(), in.shape().end());
  std::string body =
      BinaryBody({{ref_.inputs[0].name, "FP32", shape,
                   std::string(reinterpret_cast<const char*>(in.data()), in.byte_size())}},
                 true, json_size);
  HttpClient c(server_->http_port());
  auto r = c.Post("/v2/models/mlp_forecaster/infer", body,
                  {"Inference-Header-Content-Length: " + std::to_string(json_size)});
  ASSERT_EQ(r.status, 200) << r.body;
  const size_t header = std::stoul(r.headers.at("inference-header-content-length"));
  std::vector<float> got((r.body.size() - header) / 4);
  std::memcpy(got.data(), r.body.data() + header, got.size() * 4);
  ExpectReference(got);
}

}  // namespace
}  // namespace batchwise
