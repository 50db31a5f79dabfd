// A Triton-layout model folder (config.pbtxt with numeric version folders), written by the test
// beside the fixture's config.json models, served through the real Server: listed by the
// repository index, loaded over HTTP, its config reported, and inference answered.
#include <filesystem>
#include <fstream>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"
#include "grpc_service.grpc.pb.h"

namespace batchwise {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ClientResponse;
using testing::FakeModelServer;
using testing::FakeServerOptions;
using testing::HttpClient;

// Same tensors as the fixture's "tiny" (x FP32 [-1,4] -> y FP32 [-1,2]); versions 1 and 2.
void WriteTritonModel(const std::string& repository) {
  const fs::path folder = fs::path(repository) / "ttiny";
  for (const char* v : {"1", "2"}) {
    fs::create_directories(folder / v);
    std::ofstream(folder / v / "model.onnx") << "fake engines do not read it";
  }
  std::ofstream(folder / "config.pbtxt") << R"(
name: "ttiny"
backend: "onnxruntime"
max_batch_size: 8
version_policy: { all: {} }
input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 2 ] } ]
dynamic_batching { preferred_batch_size: [ 2, 4 ] max_queue_delay_microseconds: 300 }
instance_group [ { count: 1 kind: KIND_CPU } ]
)";
}

TEST(TritonRepositoryTest, ATritonFolderBesideAConfigJsonModelLoadsAndServes) {
  FakeModelServer server;
  WriteTritonModel(server.repository());
  HttpClient http(server.port());

  ClientResponse index = http.Post("/v2/repository/index", "{}");
  ASSERT_EQ(index.status, 200);
  bool listed = false;
  for (const auto& e : json::parse(index.body)) listed = listed || e["name"] == "ttiny";
  EXPECT_TRUE(listed) << index.body;

  ClientResponse load = http.Post("/v2/repository/models/ttiny/load", "{}");
  ASSERT_EQ(load.status, 200) << load.body;
  EXPECT_EQ(http.Get("/v2/models/ttiny/ready").status, 200);
  EXPECT_EQ(http.Get("/v2/models/tiny/ready").status, 200);  // the config.json model beside it

  ClientResponse config = http.Get("/v2/models/ttiny/config");
  ASSERT_EQ(config.status, 200) << config.body;
  const json c = json::parse(config.body);
  EXPECT_EQ(c["platform"], "opencv_dnn");  // the engine that runs, not onnxruntime
  EXPECT_EQ(c["max_batch_size"], 8);
  EXPECT_EQ(c["input"][0]["dims"], json::array({4}));

  ClientResponse infer = http.Post(
      "/v2/models/ttiny/infer",
      R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})");
  ASSERT_EQ(infer.status, 200) << infer.body;
  EXPECT_EQ(json::parse(infer.body)["outputs"][0]["shape"], json::array({1, 2}));
}

TEST(TritonRepositoryTest, AnUnknownFieldFailsTheLoadNamingFileLineAndField) {
  FakeModelServer server;
  WriteTritonModel(server.repository());
  std::ofstream(fs::path(server.repository()) / "ttiny" / "config.pbtxt", std::ios::app)
      << "sequence_batching { }\n";
  HttpClient http(server.port());
  ClientResponse load = http.Post("/v2/repository/models/ttiny/load", "{}");
  EXPECT_EQ(load.status, 400) << load.body;
  EXPECT_NE(load.body.find("config.pbtxt: line 10"), std::string::npos) << load.body;
  EXPECT_NE(load.body.find("sequence_batching"), std::string::npos) << load.body;
}

// "tflat": Triton's max_batch_size 0, tensors x [1,4] -> y [1,2] with their full shapes.
void WriteUnbatchedModel(const std::string& repository) {
  const fs::path folder = fs::path(repository) / "tflat";
  fs::create_directories(folder / "1");
  std::ofstream(folder / "1" / "model.onnx") << "fake engines do not read it";
  std::ofstream(folder / "config.pbtxt") << R"(
platform: "onnxruntime_onnx"
max_batch_size: 0
input [ { name: "x" data_type: TYPE_FP32 dims: [ 1, 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 1, 2 ] } ]
)";
}

// max_batch_size 0 served: the config says 0 with full dims on both protocols, a request of the
// full shape runs alone (fixed batch 1), one of another leading dim is refused naming the shape.
TEST(TritonRepositoryTest, AModelWithoutBatchDimensionTakesFullShapesOneRequestAtATime) {
  FakeServerOptions o;
  o.grpc_port = 0;
  FakeModelServer server(o);
  WriteUnbatchedModel(server.repository());
  HttpClient http(server.port());
  ASSERT_EQ(http.Post("/v2/repository/models/tflat/load", "{}").status, 200);

  const json c = json::parse(http.Get("/v2/models/tflat/config").body);
  EXPECT_EQ(c["max_batch_size"], 0);
  EXPECT_EQ(c["input"][0]["dims"], json::array({1, 4}));
  EXPECT_EQ(c["output"][0]["dims"], json::array({1, 2}));
  const json meta = json::parse(http.Get("/v2/models/tflat").body);
  EXPECT_EQ(meta["inputs"][0]["shape"], json::array({1, 4}));
  auto stub = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.grpc_port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  inference::ModelConfigRequest req;
  req.set_name("tflat");
  inference::ModelConfigResponse grpc_config;
  ASSERT_TRUE(stub->ModelConfig(&ctx, req, &grpc_config).ok());
  EXPECT_EQ(grpc_config.config().max_batch_size(), 0);
  ASSERT_EQ(grpc_config.config().input(0).dims_size(), 2);
  EXPECT_EQ(grpc_config.config().input(0).dims(0), 1);
  EXPECT_EQ(grpc_config.config().input(0).dims(1), 4);

  for (int i = 0; i < 3; ++i) {
    ClientResponse infer = http.Post(
        "/v2/models/tflat/infer",
        R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})");
    ASSERT_EQ(infer.status, 200) << infer.body;
    EXPECT_EQ(json::parse(infer.body)["outputs"][0]["shape"], json::array({1, 2}));
  }
  ClientResponse two = http.Post(
      "/v2/models/tflat/infer",
      R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 4], "data": [1,2,3,4,5,6,7,8]}]})");
  EXPECT_EQ(two.status, 400);
  EXPECT_NE(two.body.find("no batch dimension (max_batch_size 0) and takes [1,4]"),
            std::string::npos)
      << two.body;
  const json models = json::parse(http.Get("/v2/batchwise/models").body);
  for (const auto& m : models["models"]) {
    if (m["name"] != "tflat") continue;
    for (const auto& b : m["batching"]) {
      EXPECT_EQ(b["policy"], "fixed") << m;
      EXPECT_EQ(b["batch_size"], 1) << m;
    }
  }
  const json stats = json::parse(http.Get("/v2/models/tflat/stats").body)["model_stats"][0];
  EXPECT_EQ(stats["execution_count"], 3);  // each request alone
  for (const auto& b : stats["batch_stats"]) EXPECT_EQ(b["batch_size"], 1) << stats;
}

// A load's parameters.config for "ttiny" (max_batch_size 3 where the folder's says 8).
json ConfigParameter(const std::string& platform) {
  return {{"name", "ttiny"}, {"platform", platform}, {"max_batch_size", 3},
          {"version_policy", {{"specific", {{"versions", {1}}}}}},
          {"input", {{{"name", "x"}, {"data_type", "TYPE_FP32"}, {"dims", {4}}}}},
          {"output", {{{"name", "y"}, {"data_type", "TYPE_FP32"}, {"dims", {2}}}}}};
}

// Triton's load with parameters.config: the JSON config given replaces the folder's for that load.
TEST(TritonRepositoryTest, ALoadWithParametersConfigUsesTheConfigGiven) {
  FakeModelServer server;
  WriteTritonModel(server.repository());
  HttpClient http(server.port());
  const json config = ConfigParameter("pytorch_libtorch");
  // The folder holds model.onnx only: a TorchScript config finds no model.pt, which says that
  // the config given, not the folder's, was read.
  ClientResponse torch = http.Post("/v2/repository/models/ttiny/load",
                                   json{{"parameters", {{"config", config.dump()}}}}.dump());
  EXPECT_EQ(torch.status, 400) << torch.body;
  EXPECT_NE(torch.body.find("version 1 has no model.pt"), std::string::npos) << torch.body;

  json onnx = config;
  onnx["platform"] = "onnxruntime_onnx";
  ClientResponse load = http.Post("/v2/repository/models/ttiny/load",
                                  json{{"parameters", {{"config", onnx.dump()}}}}.dump());
  ASSERT_EQ(load.status, 200) << load.body;
  ClientResponse c = http.Get("/v2/models/ttiny/config");
  ASSERT_EQ(c.status, 200);
  EXPECT_EQ(json::parse(c.body)["max_batch_size"], 3);  // the folder's config says 8

  json unknown = onnx;
  unknown["sequence_batching"] = json::object();
  ClientResponse bad = http.Post("/v2/repository/models/ttiny/load",
                                 json{{"parameters", {{"config", unknown.dump()}}}}.dump());
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("sequence_batching"), std::string::npos) << bad.body;
  EXPECT_EQ(http.Post("/v2/repository/models/ttiny/load", R"({"parameters": {"config": 5}})").status,
            400);
}

// The same over gRPC: RepositoryModelLoadRequest.parameters["config"].string_param goes through
// the load HTTP's parameters.config goes through.
TEST(TritonRepositoryTest, AGrpcLoadWithParametersConfigUsesTheConfigGiven) {
  FakeServerOptions o;
  o.grpc_port = 0;
  FakeModelServer server(o);
  WriteTritonModel(server.repository());
  auto stub = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.grpc_port()), grpc::InsecureChannelCredentials()));
  auto load = [&](const inference::ModelRepositoryParameter* config) {
    grpc::ClientContext ctx;
    inference::RepositoryModelLoadRequest req;
    req.set_model_name("ttiny");
    if (config != nullptr) (*req.mutable_parameters())["config"] = *config;
    inference::RepositoryModelLoadResponse resp;
    return stub->RepositoryModelLoad(&ctx, req, &resp);
  };
  inference::ModelRepositoryParameter p;
  p.set_string_param(ConfigParameter("pytorch_libtorch").dump());
  grpc::Status torch = load(&p);
  EXPECT_EQ(torch.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(torch.error_message().find("version 1 has no model.pt"), std::string::npos)
      << torch.error_message();

  p.set_string_param(ConfigParameter("onnxruntime_onnx").dump());
  grpc::Status ok = load(&p);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  grpc::ClientContext ctx;
  inference::ModelConfigRequest req;
  req.set_name("ttiny");
  inference::ModelConfigResponse config;
  ASSERT_TRUE(stub->ModelConfig(&ctx, req, &config).ok());
  EXPECT_EQ(config.config().max_batch_size(), 3);  // the folder's config says 8
  EXPECT_EQ(config.config().platform(), "opencv_dnn");

  ASSERT_TRUE(load(nullptr).ok());  // no parameter: the folder's config again
  HttpClient http(server.port());
  EXPECT_EQ(json::parse(http.Get("/v2/models/ttiny/config").body)["max_batch_size"], 8);

  p.set_int64_param(5);
  grpc::Status wrong = load(&p);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(wrong.error_message().find("parameters.config"), std::string::npos);
}

// Version routes answer for the version the repository serves: "ttiny" has folders 1 and 2 and
// policy all, so version 2 serves (one version per model); 1 and unknown ones are 404 naming it.
TEST(TritonRepositoryTest, HttpVersionRoutesAnswerForTheServedVersion) {
  FakeModelServer server;
  WriteTritonModel(server.repository());
  HttpClient http(server.port());
  ASSERT_EQ(http.Post("/v2/repository/models/ttiny/load", "{}").status, 200);
  const std::string v2 = "/v2/models/ttiny/versions/2";
  EXPECT_EQ(http.Get(v2 + "/ready").status, 200);
  EXPECT_EQ(http.Get(v2 + "/config").status, 200);
  ClientResponse meta = http.Get(v2);
  ASSERT_EQ(meta.status, 200);
  EXPECT_EQ(json::parse(meta.body)["versions"], json::array({"2"}));
  const std::string x =
      R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]})";
  ClientResponse infer = http.Post(v2 + "/infer", x);
  ASSERT_EQ(infer.status, 200) << infer.body;
  EXPECT_EQ(json::parse(infer.body)["model_version"], "2");
  ClientResponse stats = http.Get(v2 + "/stats");
  ASSERT_EQ(stats.status, 200);
  EXPECT_EQ(json::parse(stats.body)["model_stats"][0]["version"], "2");
  ClientResponse index = http.Post("/v2/repository/index", R"({"ready": true})");
  for (const auto& e : json::parse(index.body)) {
    EXPECT_EQ(e["version"], e["name"] == "ttiny" ? "2" : "1") << index.body;
  }

  for (const std::string path : {"/v2/models/ttiny/versions/1/ready",
                                 "/v2/models/ttiny/versions/1", "/v2/models/ttiny/versions/7/config",
                                 "/v2/models/ttiny/versions/1/stats"}) {
    ClientResponse r = http.Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.body.find("no version"), std::string::npos) << r.body;
  }
  ClientResponse v1 = http.Post("/v2/models/ttiny/versions/1/infer", x);
  EXPECT_EQ(v1.status, 404);
  EXPECT_NE(v1.body.find("version 1"), std::string::npos) << v1.body;
  EXPECT_NE(v1.body.find("serves version 2"), std::string::npos) << v1.body;
  // A config.json model serves version 1.
  EXPECT_EQ(http.Get("/v2/models/tiny/versions/1/ready").status, 200);
  EXPECT_EQ(http.Get("/v2/models/tiny/versions/2/ready").status, 404);
}

TEST(TritonRepositoryTest, GrpcVersionFieldsAnswerForTheServedVersion) {
  FakeServerOptions o;
  o.grpc_port = 0;
  FakeModelServer server(o);
  WriteTritonModel(server.repository());
  HttpClient http(server.port());
  ASSERT_EQ(http.Post("/v2/repository/models/ttiny/load", "{}").status, 200);
  auto stub = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.grpc_port()), grpc::InsecureChannelCredentials()));
  auto ready = [&](const std::string& version) {
    grpc::ClientContext ctx;
    inference::ModelReadyRequest req;
    req.set_name("ttiny");
    req.set_version(version);
    inference::ModelReadyResponse resp;
    return stub->ModelReady(&ctx, req, &resp);
  };
  EXPECT_TRUE(ready("2").ok());
  grpc::Status v1 = ready("1");
  EXPECT_EQ(v1.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(v1.error_message().find("version 1"), std::string::npos) << v1.error_message();

  auto infer = [&](const std::string& version, inference::ModelInferResponse* resp) {
    grpc::ClientContext ctx;
    inference::ModelInferRequest req;
    req.set_model_name("ttiny");
    req.set_model_version(version);
    auto* in = req.add_inputs();
    in->set_name("x");
    in->set_datatype("FP32");
    in->add_shape(1);
    in->add_shape(4);
    for (float v : {1.0f, 2.0f, 3.0f, 4.0f}) in->mutable_contents()->add_fp32_contents(v);
    return stub->ModelInfer(&ctx, req, resp);
  };
  inference::ModelInferResponse resp;
  grpc::Status ok = infer("2", &resp);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(resp.model_version(), "2");
  grpc::Status v3 = infer("3", &resp);
  EXPECT_EQ(v3.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(v3.error_message().find("version 3"), std::string::npos) << v3.error_message();

  grpc::ClientContext ctx;
  inference::ModelMetadataRequest req;
  req.set_name("ttiny");
  req.set_version("2");
  inference::ModelMetadataResponse meta;
  ASSERT_TRUE(stub->ModelMetadata(&ctx, req, &meta).ok());
  ASSERT_EQ(meta.versions_size(), 1);
  EXPECT_EQ(meta.versions(0), "2");
}

}  // namespace
}  // namespace batchwise
