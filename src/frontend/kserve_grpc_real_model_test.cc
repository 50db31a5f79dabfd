// The generated mlp_forecaster through both protocols of one Server: the gRPC answer's output
// bytes are the HTTP binary answer's, and both are the reference outputs (skipped when models
// are not generated).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "backend/testing/model_repo.h"
#include "app/server.h"
#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"
#include "grpc_service.grpc.pb.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: helpers

class KServeGrpcRealModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mlp = LoadReferenceModel("mlp_forecaster");
    if (!mlp.ok()) GTEST_SKIP() << NoModelsMessage(mlp.status());
    ref_ = *mlp;
    auto s = Server::Create(RealMlpServerOptions("bw_grpc_tables", 0), SystemClock());
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(s).value();
    ASSERT_TRUE(server_->load_failures().empty()) << server_->load_failures()[0];
  }

  ReferenceModel ref_;
  std::unique_ptr<Server> server_;
};

TEST_F(KServeGrpcRealModelTest, GrpcOutputBytesAreTheHttpOutputBytes) {
  const Tensor& in = ref_.ref_inputs[0];
  const std::string raw(reinterpret_cast<const char*>(in.data()), in.byte_size());

  size_t json_size = 0;
  std::vector<long> shape(in.shape().begin(), in.shape().end());
  std::string body = BinaryBody({{ref_.inputs[0].name, "FP32", shape, raw}}, true, json_size);
  HttpClient c(server_->http_port());
  auto r = c.Post("/v2/models/mlp_forecaster/infer", body,
                  {"Inference-Header-Content-Length: " + std::to_string(json_size)});
  ASSERT_EQ(r.status, 200) << r.body;
  const size_t header = std::stoul(r.headers.at("inference-header-content-length"));
  const std::string http_bytes = r.body.substr(header);

  auto stub = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
  inference::ModelInferRequest req;
  req.set_model_name("mlp_forecaster");
  auto* t = req.add_inputs();
  t->set_name(ref_.inputs[0].name);
  t->set_datatype("FP32");
  for (int64_t d : in.shape()) t->add_shape(d);
  req.add_raw_input_contents(raw);
  inference::ModelInferResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = stub->ModelInfer(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.raw_output_contents_size(), 1);
  EXPECT_EQ(std::vector<int64_t>(resp.outputs(0).shape().begin(), resp.outputs(0).shape().end()),
            ref_.ref_outputs[0].shape());
  EXPECT_EQ(resp.raw_output_contents(0), http_bytes);  // byte for byte

  const auto want = ref_.ref_outputs[0].as<float>();
  ASSERT_EQ(http_bytes.size(), want.size() * sizeof(float));
  std::vector<float> got(want.size());
  std::memcpy(got.data(), resp.raw_output_contents(0).data(), http_bytes.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << i;
}

}  // namespace
}  // namespace batchwise
