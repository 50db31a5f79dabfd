// The KServe v2 gRPC endpoint end to end: a real Server (fake engines over a temporary
// repository, as kserve_http_test.cc) with its gRPC port open, driven with the generated stub.
// Errors are checked against what the HTTP endpoint answers for the same request.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "frontend/grpc_status.h"
#include "frontend/http_status.h"
#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"
#include "grpc_service.grpc.pb.h"

namespace batchwise {
namespace {

using namespace testing;    // NOLINT: the fixtures
using namespace inference;  // NOLINT: the generated messages
using nlohmann::json;

std::string Floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::vector<float> AsFloats(const std::string& raw) {
  std::vector<float> v(raw.size() / sizeof(float));
  std::memcpy(v.data(), raw.data(), v.size() * sizeof(float));
  return v;
}

// A request for "tiny": x FP32 [batch,4], every row's first value `first`, raw contents.
ModelInferRequest RawInfer(float first, int batch = 1, const std::string& model = "tiny") {
  ModelInferRequest r;
  r.set_model_name(model);
  auto* x = r.add_inputs();
  x->set_name("x");
  x->set_datatype("FP32");
  x->add_shape(batch);
  x->add_shape(4);
  std::vector<float> v(batch * 4, 0.0f);
  for (int i = 0; i < batch; ++i) v[i * 4] = first;
  r.add_raw_input_contents(Floats(v));
  return r;
}

class KServeGrpcTest : public ::testing::Test {
 protected:
  void Start(FakeServerOptions o = {}) {
    o.grpc_port = 0;
    gate_ = o.engine.gate;
    server_ = std::make_unique<FakeModelServer>(o);
    ASSERT_GT(server_->grpc_port(), 0);
    stub_ = NewStub();
    http_ = std::make_unique<HttpClient>(server_->port());
  }
  void SetUp() override { Start(); }
  void TearDown() override {
    if (gate_) gate_->Open();
  }

  std::unique_ptr<GRPCInferenceService::Stub> NewStub() const {
    return GRPCInferenceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
  }

  grpc::Status Infer(const ModelInferRequest& req, ModelInferResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return stub_->ModelInfer(&ctx, req, resp);
  }

  std::shared_ptr<Gate> gate_;
  std::unique_ptr<FakeModelServer> server_;
  std::unique_ptr<GRPCInferenceService::Stub> stub_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(KServeGrpcTest, ServerLiveReadyAndMetadata) {
  grpc::ClientContext c1, c2, c3;
  ServerLiveResponse live;
  ASSERT_TRUE(stub_->ServerLive(&c1, {}, &live).ok());
  EXPECT_TRUE(live.live());
  ServerReadyResponse ready;
  ASSERT_TRUE(stub_->ServerReady(&c2, {}, &ready).ok());
  EXPECT_TRUE(ready.ready());
  ServerMetadataResponse meta;
  ASSERT_TRUE(stub_->ServerMetadata(&c3, {}, &meta).ok());
  EXPECT_EQ(meta.name(), "batchwise");
  EXPECT_EQ(meta.version(), "0.1.0");
  const json http = json::parse(http_->Get("/v2").body);
  ASSERT_EQ(static_cast<size_t>(meta.extensions_size()), http["extensions"].size());
  for (int i = 0; i < meta.extensions_size(); ++i)
    EXPECT_EQ(meta.extensions(i), http["extensions"][i]);
}

TEST_F(KServeGrpcTest, ModelReadyIsNotFoundOnlyForUnknownModels) {
  struct Case {
    std::string name, version;
    grpc::StatusCode code;
    bool ready;
  };
  for (const Case& c :
       {Case{"tiny", "", grpc::StatusCode::OK, true}, Case{"tiny", "1", grpc::StatusCode::OK, true},
        Case{"spare", "", grpc::StatusCode::OK, false},  // in the repository
        Case{"nope", "", grpc::StatusCode::NOT_FOUND, false},
        Case{"tiny", "2", grpc::StatusCode::NOT_FOUND, false},
        Case{"tiny", "one", grpc::StatusCode::INVALID_ARGUMENT, false},
        Case{"../tiny", "", grpc::StatusCode::INVALID_ARGUMENT, false}}) {
    grpc::ClientContext ctx;
    ModelReadyRequest req;
    req.set_name(c.name);
    req.set_version(c.version);
    ModelReadyResponse resp;
    grpc::Status s = stub_->ModelReady(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), c.code) << c.name << "/" << c.version << ": " << s.error_message();
    EXPECT_EQ(resp.ready(), c.ready) << c.name << "/" << c.version;
  }
}

TEST_F(KServeGrpcTest, ModelMetadataMatchesHttp) {
  grpc::ClientContext ctx;
  ModelMetadataRequest req;
  req.set_name("tiny");
  ModelMetadataResponse m;
  ASSERT_TRUE(stub_->ModelMetadata(&ctx, req, &m).ok());
  const json http = json::parse(http_->Get("/v2/models/tiny").body);
  EXPECT_EQ(m.name(), "tiny");
  ASSERT_EQ(m.versions_size(), 1);
  EXPECT_EQ(m.versions(0), "1");
  EXPECT_EQ(m.platform(), http["platform"]);
  ASSERT_EQ(m.inputs_size(), 1);
  EXPECT_EQ(m.inputs(0).name(), "x");
  EXPECT_EQ(m.inputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(m.inputs(0).shape().begin(), m.inputs(0).shape().end()),
            (std::vector<int64_t>{-1, 4}));
  ASSERT_EQ(m.outputs_size(), 1);
  EXPECT_EQ(m.outputs(0).name(), "y");
  grpc::ClientContext c2;
  req.set_name("nope");
  EXPECT_EQ(stub_->ModelMetadata(&c2, req, &m).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(KServeGrpcTest, RawInferenceAnswersRawOutputsAndEchoesTheId) {
  ModelInferRequest req = RawInfer(2.5f, 2);
  req.set_id("req-7");
  ModelInferResponse resp;
  grpc::Status s = Infer(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.model_name(), "tiny");
  EXPECT_EQ(resp.model_version(), "1");
  EXPECT_EQ(resp.id(), "req-7");
  ASSERT_EQ(resp.outputs_size(), 1);
  EXPECT_EQ(resp.outputs(0).name(), "y");
  EXPECT_EQ(resp.outputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(resp.outputs(0).shape().begin(), resp.outputs(0).shape().end()),
            (std::vector<int64_t>{2, 2}));
  EXPECT_FALSE(resp.outputs(0).has_contents());
  ASSERT_EQ(resp.raw_output_contents_size(), 1);
  EXPECT_EQ(AsFloats(resp.raw_output_contents(0)), (std::vector<float>{2.5f, 2.5f, 2.5f, 2.5f}));
  // Where it ran, as the HTTP response's parameters say.
  ASSERT_TRUE(resp.parameters().contains("processor"));
  EXPECT_EQ(resp.parameters().at("processor").string_param().rfind("cpu:", 0), 0u);
  ASSERT_TRUE(resp.parameters().contains("simulated"));
  EXPECT_FALSE(resp.parameters().at("simulated").bool_param());
}

TEST_F(KServeGrpcTest, TypedContentsGiveTheSameAnswerAsRaw) {
  ModelInferRequest req;
  req.set_model_name("tiny");
  req.set_model_version("1");
  auto* x = req.add_inputs();
  x->set_name("x");
  x->set_datatype("FP32");
  x->add_shape(3);
  x->add_shape(4);
  for (float v : {4.f, 0.f, 0.f, 0.f, -2.f, 1.f, 1.f, 1.f, 9.f, 0.f, 0.f, 0.f})
    x->mutable_contents()->add_fp32_contents(v);
  req.add_outputs()->set_name("y");
  ModelInferResponse resp;
  grpc::Status s = Infer(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.raw_output_contents_size(), 1);
  EXPECT_EQ(AsFloats(resp.raw_output_contents(0)), (std::vector<float>{4, 4, -2, -2, 9, 9}));
}

using Stream = grpc::ClientReaderWriter<ModelInferRequest, ModelStreamInferResponse>;

// Reads `n` answers of `stream`, by request id (each id once).
std::map<std::string, ModelStreamInferResponse> ReadAnswers(Stream& stream, int n) {
  std::map<std::string, ModelStreamInferResponse> by_id;
  for (int i = 0; i < n; ++i) {
    ModelStreamInferResponse r;
    if (!stream.Read(&r)) break;
    EXPECT_TRUE(by_id.emplace(r.infer_response().id(), r).second) << r.infer_response().id();
  }
  return by_id;
}

// One stream, many requests in flight at once (all written before any answer is read), two of
// them errors: each answer carries its request's id, the errors are answers of their own (the
// message HTTP would give), and the stream ends OK after the client half-closes.
TEST_F(KServeGrpcTest, StreamAnswersEveryRequestInFlightWithItsIdAndErrorsInline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<Stream> stream = stub_->ModelStreamInfer(&ctx);
  constexpr int kRequests = 24, kUnknownModel = 10, kBadType = 17;
  for (int i = 0; i < kRequests; ++i) {
    ModelInferRequest req =
        RawInfer(static_cast<float>(i), 1 + i % 3, i == kUnknownModel ? "nope" : "tiny");
    if (i == kBadType) req.mutable_inputs(0)->set_datatype("FP99");
    req.set_id("r" + std::to_string(i));
    ASSERT_TRUE(stream->Write(req));
  }
  std::map<std::string, ModelStreamInferResponse> answers = ReadAnswers(*stream, kRequests);
  stream->WritesDone();
  grpc::Status end = stream->Finish();
  EXPECT_TRUE(end.ok()) << end.error_message();
  ASSERT_EQ(answers.size(), static_cast<size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) {
    const ModelStreamInferResponse& a = answers["r" + std::to_string(i)];
    if (i == kUnknownModel || i == kBadType) {
      ModelInferRequest same = RawInfer(0, 1, i == kUnknownModel ? "nope" : "tiny");
      if (i == kBadType) same.mutable_inputs(0)->set_datatype("FP99");
      ModelInferResponse unary;
      EXPECT_EQ(a.error_message(), Infer(same, &unary).error_message()) << i;
      EXPECT_FALSE(a.error_message().empty()) << i;
      EXPECT_EQ(a.infer_response().outputs_size(), 0) << i;
      continue;
    }
    EXPECT_EQ(a.error_message(), "") << i;
    ASSERT_EQ(a.infer_response().raw_output_contents_size(), 1) << i;
    EXPECT_EQ(AsFloats(a.infer_response().raw_output_contents(0)),
              std::vector<float>((1 + i % 3) * 2, static_cast<float>(i)))
        << i;
  }
}

TEST_F(KServeGrpcTest, StreamWithNoRequestsEndsOkWhenTheClientHalfCloses) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<Stream> stream = stub_->ModelStreamInfer(&ctx);
  stream->WritesDone();
  ModelStreamInferResponse r;
  EXPECT_FALSE(stream->Read(&r));
  EXPECT_TRUE(stream->Finish().ok());
}

// Upstream RPCs our proto does not declare (Trace) reach the server as unknown methods.
TEST_F(KServeGrpcTest, UndeclaredUpstreamRpcsAreUnimplemented) {
  grpc::GenericStub generic(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                                grpc::InsecureChannelCredentials()));
  for (const char* method : {"/inference.GRPCInferenceService/TraceSetting",
                             "/inference.GRPCInferenceService/LogSettings"}) {
    grpc::ClientContext ctx;
    grpc::Slice empty("");  // an empty request message
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                      [&done](grpc::Status s) { done.set_value(std::move(s)); });
    EXPECT_EQ(done.get_future().get().error_code(), grpc::StatusCode::UNIMPLEMENTED) << method;
  }
}

// What Triton's clients read (perf_analyzer: max_batch_size, then dims without the batch
// dimension) is what HTTP's /config says, in Triton's field numbers and enum values.
TEST_F(KServeGrpcTest, ModelConfigIsTheHttpConfigInTritonsMessage) {
  grpc::ClientContext ctx;
  ModelConfigRequest req;
  req.set_name("tiny");
  req.set_version("1");
  ModelConfigResponse resp;
  grpc::Status s = stub_->ModelConfig(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const inference::ModelConfig& c = resp.config();
  const json http = json::parse(http_->Get("/v2/models/tiny/config").body);
  EXPECT_EQ(c.name(), "tiny");
  EXPECT_EQ(c.platform(), http["platform"]);
  EXPECT_EQ(c.backend(), http["backend"]);
  EXPECT_EQ(c.max_batch_size(), 8);
  EXPECT_EQ(c.max_batch_size(), http["max_batch_size"]);
  EXPECT_EQ(c.version_policy().latest().num_versions(), 1u);
  EXPECT_TRUE(c.has_dynamic_batching());
  ASSERT_EQ(c.input_size(), 1);
  EXPECT_EQ(c.input(0).name(), "x");
  EXPECT_EQ(c.input(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(static_cast<int>(c.input(0).data_type()), 11);  // Triton's number for TYPE_FP32
  EXPECT_EQ(inference::DataType_Name(c.input(0).data_type()), http["input"][0]["data_type"]);
  EXPECT_EQ(std::vector<int64_t>(c.input(0).dims().begin(), c.input(0).dims().end()),
            (std::vector<int64_t>{4}));  // without the batch dimension
  EXPECT_EQ(json(std::vector<int64_t>(c.input(0).dims().begin(), c.input(0).dims().end())),
            http["input"][0]["dims"]);
  EXPECT_EQ(c.input(0).format(), inference::ModelInput::FORMAT_NONE);
  ASSERT_EQ(c.output_size(), 1);
  EXPECT_EQ(c.output(0).name(), "y");
  EXPECT_EQ(c.output(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(std::vector<int64_t>(c.output(0).dims().begin(), c.output(0).dims().end()),
            (std::vector<int64_t>{2}));
  ASSERT_EQ(static_cast<size_t>(c.instance_group_size()), http["instance_group"].size());
  ASSERT_GE(c.instance_group_size(), 1);
  EXPECT_EQ(c.instance_group(0).name(), http["instance_group"][0]["name"]);
  EXPECT_EQ(c.instance_group(0).kind(), inference::ModelInstanceGroup::KIND_CPU);
  EXPECT_EQ(c.instance_group(0).count(), 1);
  ASSERT_EQ(static_cast<size_t>(c.parameters_size()), http["parameters"].size());
  for (const auto& [key, value] : http["parameters"].items()) {
    ASSERT_TRUE(c.parameters().contains(key)) << key;
    EXPECT_EQ(c.parameters().at(key).string_value(), value["string_value"]) << key;
  }
}

TEST_F(KServeGrpcTest, ModelConfigIsNotFoundWhereHttpsIs) {
  struct Case {
    std::string name, version;
    grpc::StatusCode code;
  };
  for (const Case& c : {Case{"nope", "", grpc::StatusCode::NOT_FOUND},
                        Case{"spare", "", grpc::StatusCode::NOT_FOUND},  // not loaded
                        Case{"tiny", "2", grpc::StatusCode::NOT_FOUND},
                        Case{"tiny", "one", grpc::StatusCode::INVALID_ARGUMENT}}) {
    grpc::ClientContext ctx;
    ModelConfigRequest req;
    req.set_name(c.name);
    req.set_version(c.version);
    ModelConfigResponse resp;
    grpc::Status s = stub_->ModelConfig(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), c.code) << c.name << "/" << c.version << ": " << s.error_message();
    const std::string path =
        "/v2/models/" + c.name + (c.version.empty() ? "" : "/versions/" + c.version) + "/config";
    EXPECT_EQ(http_->Get(path).status, HttpStatusFor(StatusCodeForGrpcCode(c.code))) << path;
  }
}

// --- Repository extension ---

grpc::Status RepositoryCall(GRPCInferenceService::Stub& stub, bool load, const std::string& model,
                            const std::string& token = "") {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  if (load) {
    RepositoryModelLoadRequest req;
    req.set_model_name(model);
    RepositoryModelLoadResponse resp;
    return stub.RepositoryModelLoad(&ctx, req, &resp);
  }
  RepositoryModelUnloadRequest req;
  req.set_model_name(model);
  RepositoryModelUnloadResponse resp;
  return stub.RepositoryModelUnload(&ctx, req, &resp);
}

RepositoryIndexResponse Index(GRPCInferenceService::Stub& stub, bool ready_only = false) {
  grpc::ClientContext ctx;
  RepositoryIndexRequest req;
  req.set_ready(ready_only);
  RepositoryIndexResponse resp;
  grpc::Status s = stub.RepositoryIndex(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp;
}

TEST_F(KServeGrpcTest, RepositoryIndexListsWhatHttpLists) {
  const RepositoryIndexResponse index = Index(*stub_);
  ASSERT_EQ(index.models_size(), 2);
  EXPECT_EQ(index.models(0).name(), "spare");
  EXPECT_EQ(index.models(0).version(), "1");
  EXPECT_EQ(index.models(0).state(), "UNAVAILABLE");
  EXPECT_EQ(index.models(0).reason(), "unloaded");
  EXPECT_EQ(index.models(1).name(), "tiny");
  EXPECT_EQ(index.models(1).state(), "READY");
  EXPECT_EQ(index.models(1).reason(), "");
  const json http = json::parse(http_->Post("/v2/repository/index", "").body);
  ASSERT_EQ(http.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(index.models(i).name(), http[i]["name"]);
    EXPECT_EQ(index.models(i).state(), http[i]["state"]);
    EXPECT_EQ(index.models(i).reason(), http[i].value("reason", ""));
  }
  const RepositoryIndexResponse ready = Index(*stub_, true);
  ASSERT_EQ(ready.models_size(), 1);
  EXPECT_EQ(ready.models(0).name(), "tiny");
  grpc::ClientContext ctx;
  RepositoryIndexRequest named;
  named.set_repository_name("elsewhere");
  RepositoryIndexResponse resp;
  EXPECT_EQ(stub_->RepositoryIndex(&ctx, named, &resp).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(KServeGrpcTest, RepositoryLoadServesTheModelAndUnloadStopsIt) {
  ModelInferResponse resp;
  ASSERT_EQ(Infer(RawInfer(1, 1, "spare"), &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status load = RepositoryCall(*stub_, true, "spare");
  ASSERT_TRUE(load.ok()) << load.error_message();
  EXPECT_EQ(Index(*stub_).models(0).state(), "READY");
  EXPECT_EQ(http_->Get("/v2/models/spare/ready").status, 200);
  grpc::Status infer = Infer(RawInfer(3, 2, "spare"), &resp);
  ASSERT_TRUE(infer.ok()) << infer.error_message();
  EXPECT_EQ(AsFloats(resp.raw_output_contents(0)), (std::vector<float>{3, 3, 3, 3}));
  grpc::Status unload = RepositoryCall(*stub_, false, "spare");
  ASSERT_TRUE(unload.ok()) << unload.error_message();
  grpc::Status after = Infer(RawInfer(1, 1, "spare"), &resp);
  EXPECT_EQ(after.error_code(), grpc::StatusCode::NOT_FOUND) << after.error_message();
  EXPECT_EQ(Index(*stub_).models(0).state(), "UNAVAILABLE");
  // The HTTP path's answers for the same mistakes.
  EXPECT_EQ(RepositoryCall(*stub_, false, "spare").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(RepositoryCall(*stub_, true, "missing").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(RepositoryCall(*stub_, true, "../../etc").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(Infer(RawInfer(1), &resp).ok());  // tiny served throughout
}

TEST_F(KServeGrpcTest, RepositoryLoadAndUnloadNeedTheAdminToken) {
  FakeServerOptions o;
  o.admin_token = "s3cret";
  Start(o);
  for (bool load : {true, false}) {
    grpc::Status none = RepositoryCall(*stub_, load, "spare");
    EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << none.error_message();
    EXPECT_EQ(RepositoryCall(*stub_, load, "spare", "nope").error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(Index(*stub_).models(0).state(), "UNAVAILABLE");  // nothing was loaded
  grpc::Status load = RepositoryCall(*stub_, true, "spare", "s3cret");
  EXPECT_TRUE(load.ok()) << load.error_message();
  grpc::Status unload = RepositoryCall(*stub_, false, "spare", "s3cret");
  EXPECT_TRUE(unload.ok()) << unload.error_message();
}

// gRPC's callback API answers a typed request that does not parse with UNIMPLEMENTED and no
// message; ModelInfer parses its own and says what is wrong.
TEST_F(KServeGrpcTest, MalformedInferRequestIsInvalidArgumentThatSaysSo) {
  grpc::GenericStub generic(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                                grpc::InsecureChannelCredentials()));
  auto call = [&](const std::string& bytes) {
    grpc::ClientContext ctx;
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, "/inference.GRPCInferenceService/ModelInfer", grpc::StubOptions(),
                      &request, &response,
                      [&done](grpc::Status s) { done.set_value(std::move(s)); });
    return done.get_future().get();
  };
  grpc::Status bad = call("\xff\xff\xff\xff\x0f");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad.error_message();
  EXPECT_NE(bad.error_message().find("malformed protobuf"), std::string::npos)
      << bad.error_message();
  // An empty message is a valid (empty) request: it reaches the model-name check.
  grpc::Status empty = call("");
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << empty.error_message();
  EXPECT_EQ(empty.error_message().find("malformed"), std::string::npos) << empty.error_message();
  ModelInferResponse ok;
  EXPECT_TRUE(Infer(RawInfer(1), &ok).ok());
}

// One bad request, in both protocols' encodings.
struct BadGrpcRequest {
  std::string name;
  std::function<void(ModelInferRequest&)> spoil;  // applied to RawInfer(1)
  grpc::StatusCode code;
  std::string says;
  std::string http_path;  // the equivalent over HTTP ("" : no equivalent)
  std::string http_body;  // JSON
};

class KServeGrpcBadInputTest : public KServeGrpcTest,
                               public ::testing::WithParamInterface<BadGrpcRequest> {};

TEST_P(KServeGrpcBadInputTest, AnswersTheCodeHttpAnswers) {
  const BadGrpcRequest& c = GetParam();
  ModelInferRequest req = RawInfer(1);
  c.spoil(req);
  ModelInferResponse resp;
  grpc::Status s = Infer(req, &resp);
  EXPECT_EQ(s.error_code(), c.code) << s.error_message();
  EXPECT_NE(s.error_message().find(c.says), std::string::npos) << s.error_message();
  if (!c.http_path.empty()) {
    auto h = http_->Post(c.http_path, c.http_body);
    EXPECT_EQ(h.status, HttpStatusFor(StatusCodeForGrpcCode(c.code))) << h.body;
  }
  ModelInferResponse ok;
  EXPECT_TRUE(Infer(RawInfer(1), &ok).ok());  // the server is fine
}

const char* kHttpInfer = "/v2/models/tiny/infer";

INSTANTIATE_TEST_SUITE_P(
    Cases, KServeGrpcBadInputTest,
    ::testing::Values(
        BadGrpcRequest{
            "unknown_model", [](auto& r) { r.set_model_name("nope"); }, grpc::StatusCode::NOT_FOUND,
            "unknown model", "/v2/models/nope/infer",
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,0,0,0]}]})"},
        BadGrpcRequest{
            "unloaded_model", [](auto& r) { r.set_model_name("spare"); },
            grpc::StatusCode::NOT_FOUND, "not loaded", "/v2/models/spare/infer",
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,0,0,0]}]})"},
        BadGrpcRequest{
            "unknown_version", [](auto& r) { r.set_model_version("3"); },
            grpc::StatusCode::NOT_FOUND, "no version 3", "/v2/models/tiny/versions/3/infer",
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,0,0,0]}]})"},
        BadGrpcRequest{"non_numeric_version", [](auto& r) { r.set_model_version("x"); },
                       grpc::StatusCode::INVALID_ARGUMENT, "not a number", "", ""},
        BadGrpcRequest{
            "unknown_input", [](auto& r) { r.mutable_inputs(0)->set_name("q"); },
            grpc::StatusCode::INVALID_ARGUMENT, "q", kHttpInfer,
            R"({"inputs":[{"name":"q","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]})"},
        BadGrpcRequest{
            "wrong_datatype", [](auto& r) { r.mutable_inputs(0)->set_datatype("INT32"); },
            grpc::StatusCode::INVALID_ARGUMENT, "INT32", kHttpInfer,
            R"({"inputs":[{"name":"x","datatype":"INT32","shape":[1,4],"data":[1,2,3,4]}]})"},
        BadGrpcRequest{
            "unknown_datatype", [](auto& r) { r.mutable_inputs(0)->set_datatype("FLOAT"); },
            grpc::StatusCode::INVALID_ARGUMENT, "FLOAT", kHttpInfer,
            R"({"inputs":[{"name":"x","datatype":"FLOAT","shape":[1,4],"data":[1,2,3,4]}]})"},
        BadGrpcRequest{
            "wrong_shape",
            [](auto& r) {
              r.mutable_inputs(0)->set_shape(1, 3);
              r.set_raw_input_contents(0, Floats({1, 2, 3}));
            },
            grpc::StatusCode::INVALID_ARGUMENT, "shape", kHttpInfer,
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]})"},
        BadGrpcRequest{
            "raw_size_mismatch",
            [](auto& r) {
              r.set_raw_input_contents(0, Floats({1, 2, 3}));
            },
            grpc::StatusCode::INVALID_ARGUMENT, "x", kHttpInfer,
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3]}]})"},
        BadGrpcRequest{"raw_count_mismatch", [](auto& r) { r.add_raw_input_contents("extra"); },
                       grpc::StatusCode::INVALID_ARGUMENT, "raw_input_contents", "", ""},
        BadGrpcRequest{
            "raw_and_typed",
            [](auto& r) { r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1); },
            grpc::StatusCode::INVALID_ARGUMENT, "contents", "", ""},
        BadGrpcRequest{"typed_count_mismatch",
                       [](auto& r) {
                         r.clear_raw_input_contents();
                         r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
                       },
                       grpc::StatusCode::INVALID_ARGUMENT, "elements", "", ""},
        BadGrpcRequest{"negative_dimension", [](auto& r) { r.mutable_inputs(0)->set_shape(0, -1); },
                       grpc::StatusCode::INVALID_ARGUMENT, "negative", "", ""},
        // The hostile-input probe's request (the element count wraps int64 to the raw size).
        BadGrpcRequest{
            "wrapping_shape",
            [](auto& r) {
              r.mutable_inputs(0)->clear_shape();
              for (int64_t d : {int64_t{1}, int64_t{4011275626538389761}, int64_t{53523},
                                int64_t{3}}) {
                r.mutable_inputs(0)->add_shape(d);
              }
              r.set_raw_input_contents(0, std::string(1309753, 'a'));
            },
            grpc::StatusCode::INVALID_ARGUMENT, "too many elements", kHttpInfer,
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4011275626538389761,53523,3],"data":[1]}]})"},
        BadGrpcRequest{"rank_above_16",
                       [](auto& r) {
                         for (int i = 0; i < 15; ++i) r.mutable_inputs(0)->add_shape(1);
                       },
                       grpc::StatusCode::INVALID_ARGUMENT, "more than 16 dimensions", "", ""},
        BadGrpcRequest{
            "int8_out_of_range",
            [](auto& r) {
              r.clear_raw_input_contents();
              auto* in = r.mutable_inputs(0);
              in->set_datatype("INT8");
              for (int v : {1, 2, 300, 4}) in->mutable_contents()->add_int_contents(v);
            },
            grpc::StatusCode::INVALID_ARGUMENT, "(300) is not a valid INT8", kHttpInfer,
            R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1,4],"data":[1,2,300,4]}]})"},
        BadGrpcRequest{"batch_above_max", [](auto& r) { r = RawInfer(1, 9); },
                       grpc::StatusCode::INVALID_ARGUMENT, "max_batch_size", "", ""},
        BadGrpcRequest{
            "unknown_output", [](auto& r) { r.add_outputs()->set_name("zz"); },
            grpc::StatusCode::INVALID_ARGUMENT, "zz", kHttpInfer,
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,0,0,0]}],"outputs":[{"name":"zz"}]})"},
        BadGrpcRequest{
            "shared_memory",
            [](auto& r) {
              (*r.mutable_inputs(0)->mutable_parameters())["shared_memory_region"].set_string_param(
                  "r");
            },
            grpc::StatusCode::INVALID_ARGUMENT, "shared_memory_byte_size", "", ""},
        BadGrpcRequest{
            "bad_timeout",
            [](auto& r) { (*r.mutable_parameters())["timeout"].set_string_param("1"); },
            grpc::StatusCode::INVALID_ARGUMENT, "timeout", kHttpInfer,
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,0,0,0]}],"parameters":{"timeout":"1"}})"}),
    [](const auto& info) { return info.param.name; });

TEST_F(KServeGrpcTest, MessageAboveTheLimitIsResourceExhausted) {
  FakeServerOptions o;
  o.grpc_max_message_bytes = 4096;
  Start(o);
  ModelInferRequest big = RawInfer(1);
  big.set_id(std::string(8192, 'i'));
  ModelInferResponse resp;
  EXPECT_EQ(Infer(big, &resp).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Infer(RawInfer(1), &resp).ok());
}

TEST_F(KServeGrpcTest, StatisticsAreTheHttpStatistics) {
  ModelInferResponse resp;
  ASSERT_TRUE(Infer(RawInfer(1, 2), &resp).ok());
  ASSERT_TRUE(Infer(RawInfer(1, 3), &resp).ok());
  grpc::ClientContext ctx;
  ModelStatisticsRequest req;
  req.set_name("tiny");
  ModelStatisticsResponse stats;
  ASSERT_TRUE(stub_->ModelStatistics(&ctx, req, &stats).ok());
  ASSERT_EQ(stats.model_stats_size(), 1);
  const auto& m = stats.model_stats(0);
  EXPECT_EQ(m.name(), "tiny");
  EXPECT_EQ(m.version(), "1");
  EXPECT_EQ(m.inference_count(), 5u);
  EXPECT_EQ(m.inference_stats().success().count(), 2u);
  EXPECT_GT(m.last_inference(), 0u);
  const json http = json::parse(http_->Get("/v2/models/tiny/stats").body)["model_stats"][0];
  EXPECT_EQ(m.execution_count(), http["execution_count"].get<uint64_t>());
  EXPECT_EQ(m.inference_stats().compute_infer().ns(),
            http["inference_stats"]["compute_infer"]["ns"].get<uint64_t>());
  EXPECT_EQ(static_cast<size_t>(m.batch_stats_size()), http["batch_stats"].size());
  grpc::ClientContext all_ctx;
  ModelStatisticsResponse all;
  ASSERT_TRUE(stub_->ModelStatistics(&all_ctx, {}, &all).ok());
  EXPECT_EQ(all.model_stats_size(), 1);  // only loaded models
  grpc::ClientContext bad_ctx;
  req.set_name("nope");
  EXPECT_EQ(stub_->ModelStatistics(&bad_ctx, req, &stats).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(KServeGrpcTest, MetricsCountGrpcCallsAndShareTheInferenceSeries) {
  FakeServerOptions o;
  o.metrics_port = 0;
  Start(o);
  ModelInferResponse resp;
  ASSERT_TRUE(Infer(RawInfer(1), &resp).ok());
  ASSERT_TRUE(Infer(RawInfer(2), &resp).ok());
  ModelInferRequest bad = RawInfer(1);
  bad.mutable_inputs(0)->set_datatype("INT32");
  ASSERT_EQ(Infer(bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ModelInferRequest unknown = RawInfer(1, 1, "nope");
  ASSERT_EQ(Infer(unknown, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_EQ(
      http_
          ->Post(kHttpInfer,
                 R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,0,0,0]}]})")
          .status,
      200);
  HttpClient metrics(server_->server().metrics_port());
  auto m = metrics.Get("/metrics");
  ASSERT_EQ(m.status, 200) << m.error;
  for (const char* series :
       {R"(batchwise_grpc_requests_total{code="OK",method="ModelInfer"} 2)",
        R"(batchwise_grpc_requests_total{code="INVALID_ARGUMENT",method="ModelInfer"} 1)",
        R"(batchwise_grpc_requests_total{code="NOT_FOUND",method="ModelInfer"} 1)",
        R"(batchwise_inference_requests_total{model="tiny",outcome="success"} 3)",
        R"(batchwise_inference_requests_total{model="tiny",outcome="failure"} 1)",
        R"(batchwise_request_duration_seconds_count{model="tiny"} 4)",
        R"(batchwise_http_requests_total{code="200",endpoint="infer"} 1)"}) {
    EXPECT_NE(m.body.find(series), std::string::npos) << series << "\n" << m.body;
  }
}

TEST_F(KServeGrpcTest, ConcurrentCallsEachGetTheirOwnAnswer) {
  constexpr int kThreads = 6, kCalls = 40;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = NewStub();
      for (int i = 0; i < kCalls; ++i) {
        const float v = static_cast<float>(t * 1000 + i);
        const int batch = 1 + (i % 3);
        ModelInferRequest req = RawInfer(v, batch);
        req.set_id(std::to_string(t) + "/" + std::to_string(i));
        ModelInferResponse resp;
        grpc::ClientContext ctx;
        if (!stub->ModelInfer(&ctx, req, &resp).ok()) {
          ++failed;
          continue;
        }
        if (resp.id() != req.id() ||
            AsFloats(resp.raw_output_contents(0)) != std::vector<float>(batch * 2, v)) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

class KServeGrpcGatedTest : public KServeGrpcTest {
 protected:
  void SetUp() override {
    FakeServerOptions o;
    o.engine.gate = std::make_shared<Gate>();
    o.engine.fail_on_negative = true;
    o.max_queue_size = 8;
    Start(o);
  }

  // An asynchronous call; `done` is set once it completes.
  struct Pending {
    grpc::ClientContext ctx;
    ModelInferResponse resp;
    grpc::Status status;
    std::atomic<bool> done{false};
  };
  void Send(const ModelInferRequest& req, Pending& p) {
    stub_->async()->ModelInfer(&p.ctx, &req, &p.resp, [&p](grpc::Status s) {
      p.status = std::move(s);
      p.done.store(true);
    });
  }
  static void Wait(Pending& p) {
    for (int i = 0; i < 5000 && !p.done.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_TRUE(p.done.load());
  }
  int64_t Queued() {
    return server_->server().scheduler().ModelsJson()[0]["batching"][0]["queued_samples"];
  }
  void WaitQueued(int64_t n) {
    for (int i = 0; i < 1000 && Queued() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_EQ(Queued(), n);
  }
};

TEST_F(KServeGrpcGatedTest, EngineFailureIsInternalForThatCallOnly) {
  ModelInferResponse resp;
  grpc::Status s = Infer(RawInfer(-1), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(s.error_message().find("fake engine failure"), std::string::npos);
  EXPECT_TRUE(Infer(RawInfer(1), &resp).ok());
}

TEST_F(KServeGrpcGatedTest, FullQueueIsUnavailableAtOnceAndTimeoutIsDeadlineExceeded) {
  gate_->Close();
  const ModelInferRequest held_req = RawInfer(1);
  ModelInferRequest timed_req = RawInfer(2);
  (*timed_req.mutable_parameters())["timeout"].set_int64_param(1000);  // 1 ms in the queue
  const ModelInferRequest full_req = RawInfer(3, 7);
  Pending held, timed, full;
  Send(held_req, held);
  gate_->WaitForWaiting(1);
  Send(timed_req, timed);
  Send(full_req, full);
  WaitQueued(8);
  const auto t0 = std::chrono::steady_clock::now();
  ModelInferResponse refused;
  grpc::Status s = Infer(RawInfer(4), &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  gate_->Open();
  Wait(held);
  Wait(timed);
  Wait(full);
  EXPECT_TRUE(held.status.ok()) << held.status.error_message();
  EXPECT_EQ(timed.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(full.status.ok()) << full.status.error_message();
}

TEST_F(KServeGrpcGatedTest, ShutdownAnswersEveryCallInFlight) {
  gate_->Close();
  constexpr int kCalls = 6;
  std::vector<ModelInferRequest> reqs;
  for (int i = 0; i < kCalls; ++i) reqs.push_back(RawInfer(static_cast<float>(i)));
  std::vector<std::unique_ptr<Pending>> calls;
  for (int i = 0; i < kCalls; ++i) calls.push_back(std::make_unique<Pending>());
  Send(reqs[0], *calls[0]);
  gate_->WaitForWaiting(1);
  for (int i = 1; i < kCalls; ++i) Send(reqs[i], *calls[i]);
  WaitQueued(kCalls - 1);
  std::thread stopper([this] { server_->Shutdown(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate_->Open();
  stopper.join();
  for (int i = 0; i < kCalls; ++i) {
    Wait(*calls[i]);
    ASSERT_TRUE(calls[i]->status.ok()) << i << ": " << calls[i]->status.error_message();
    EXPECT_EQ(AsFloats(calls[i]->resp.raw_output_contents(0))[0], static_cast<float>(i));
  }
  ModelInferResponse after;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  EXPECT_FALSE(stub_->ModelInfer(&ctx, RawInfer(1), &after).ok());  // no longer accepting
}

TEST_F(KServeGrpcGatedTest, ShutdownWithAClientGoneAwayDoesNotHang) {
  gate_->Close();
  const ModelInferRequest req = RawInfer(1);
  {
    Pending p;
    Send(req, p);
    gate_->WaitForWaiting(1);
    p.ctx.TryCancel();  // the client gives up while the engine holds its request
    Wait(p);
    EXPECT_EQ(p.status.error_code(), grpc::StatusCode::CANCELLED);
  }
  std::thread stopper([this] { server_->Shutdown(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  gate_->Open();
  stopper.join();  // the scheduler's late answer to the cancelled call finishes it
}

// A stream answers in completion order: an error answered at once overtakes a request the
// engine holds; an engine failure is that request's answer and the stream goes on.
TEST_F(KServeGrpcGatedTest, StreamAnswersInCompletionOrderAndGoesOnAfterErrors) {
  gate_->Close();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<Stream> stream = stub_->ModelStreamInfer(&ctx);
  auto request = [](float v, const std::string& id, const std::string& model = "tiny") {
    ModelInferRequest r = RawInfer(v, 1, model);
    r.set_id(id);
    return r;
  };
  ASSERT_TRUE(stream->Write(request(1, "held")));
  gate_->WaitForWaiting(1);
  ASSERT_TRUE(stream->Write(request(1, "unknown", "nope")));
  ModelStreamInferResponse first;
  ASSERT_TRUE(stream->Read(&first));
  EXPECT_EQ(first.infer_response().id(), "unknown");
  EXPECT_NE(first.error_message().find("nope"), std::string::npos) << first.error_message();
  ASSERT_TRUE(stream->Write(request(-1, "fails")));
  WaitQueued(1);
  gate_->Open();
  std::map<std::string, ModelStreamInferResponse> answers = ReadAnswers(*stream, 2);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers["held"].error_message(), "");
  EXPECT_EQ(AsFloats(answers["held"].infer_response().raw_output_contents(0)),
            (std::vector<float>{1, 1}));
  EXPECT_NE(answers["fails"].error_message().find("fake engine failure"), std::string::npos);
  ASSERT_TRUE(stream->Write(request(3, "after")));
  ModelStreamInferResponse after;
  ASSERT_TRUE(stream->Read(&after));
  EXPECT_EQ(after.infer_response().id(), "after");
  EXPECT_EQ(after.error_message(), "");
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

// Admission is per request, as ModelInfer's: a full queue refuses the request that does not fit
// (at once, UNAVAILABLE's message) and the stream goes on.
TEST_F(KServeGrpcGatedTest, StreamFullQueueRefusesThatRequestOnly) {
  gate_->Close();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<Stream> stream = stub_->ModelStreamInfer(&ctx);
  ModelInferRequest held = RawInfer(1), full = RawInfer(2, 8), refused = RawInfer(3);
  held.set_id("held");
  full.set_id("full");
  refused.set_id("refused");
  ASSERT_TRUE(stream->Write(held));
  gate_->WaitForWaiting(1);
  ASSERT_TRUE(stream->Write(full));
  WaitQueued(8);
  ASSERT_TRUE(stream->Write(refused));
  ModelStreamInferResponse first;
  ASSERT_TRUE(stream->Read(&first));
  EXPECT_EQ(first.infer_response().id(), "refused");
  ModelInferResponse unary;
  grpc::Status s = Infer(RawInfer(4), &unary);  // what ModelInfer answers meanwhile
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(first.error_message(), s.error_message());
  gate_->Open();
  std::map<std::string, ModelStreamInferResponse> answers = ReadAnswers(*stream, 2);
  EXPECT_EQ(answers["held"].error_message(), "");
  EXPECT_EQ(answers["full"].error_message(), "");
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

// The client cancels while the engine holds its request: the call ends CANCELLED at once, the
// late answer is dropped, and the server goes on serving streams.
TEST_F(KServeGrpcGatedTest, CancelledStreamEndsAtOnceAndItsLateAnswerIsDropped) {
  gate_->Close();
  {
    grpc::ClientContext ctx;
    std::unique_ptr<Stream> stream = stub_->ModelStreamInfer(&ctx);
    ASSERT_TRUE(stream->Write(RawInfer(1)));
    gate_->WaitForWaiting(1);
    ctx.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  gate_->Open();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<Stream> stream = stub_->ModelStreamInfer(&ctx);
  ASSERT_TRUE(stream->Write(RawInfer(5)));
  ModelStreamInferResponse r;
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(AsFloats(r.infer_response().raw_output_contents(0)), (std::vector<float>{5, 5}));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

// Shutdown with a half-closed stream whose requests are in flight: they are answered and the
// stream ends OK.
TEST_F(KServeGrpcGatedTest, ShutdownAnswersAHalfClosedStreamsRequests) {
  gate_->Close();
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub_->ModelStreamInfer(&ctx);
  ModelInferRequest a = RawInfer(1), b = RawInfer(2);
  a.set_id("a");
  b.set_id("b");
  ASSERT_TRUE(stream->Write(a));
  gate_->WaitForWaiting(1);
  ASSERT_TRUE(stream->Write(b));
  WaitQueued(1);
  stream->WritesDone();
  std::thread stopper([this] { server_->Shutdown(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gate_->Open();
  std::map<std::string, ModelStreamInferResponse> answers = ReadAnswers(*stream, 2);
  EXPECT_TRUE(stream->Finish().ok());
  stopper.join();
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(AsFloats(answers["a"].infer_response().raw_output_contents(0)),
            (std::vector<float>{1, 1}));
  EXPECT_EQ(AsFloats(answers["b"].infer_response().raw_output_contents(0)),
            (std::vector<float>{2, 2}));
}

// Shutdown with a stream the client keeps open (a request held by the engine): after the grace
// period gRPC cancels it; shutdown does not wait for the held request, and its late answer, once
// the engine lets it go, is dropped.
TEST(KServeGrpcStreamShutdownTest, StreamLeftOpenIsCancelledAfterTheGrace) {
  FakeServerOptions o;
  o.grpc_port = 0;
  o.engine.gate = std::make_shared<Gate>();
  o.shutdown_grace_ms = 200;
  FakeModelServer server(o);
  auto stub = GRPCInferenceService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.grpc_port()), grpc::InsecureChannelCredentials()));
  o.engine.gate->Close();
  grpc::ClientContext ctx;
  std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&ctx);
  ASSERT_TRUE(stream->Write(RawInfer(1)));
  o.engine.gate->WaitForWaiting(1);
  const auto t0 = std::chrono::steady_clock::now();
  std::thread stopper([&server] { server.Shutdown(); });
  grpc::Status end = stream->Finish();  // the stream ends while the engine still holds it
  EXPECT_FALSE(end.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  o.engine.gate->Open();
  stopper.join();
}

}  // namespace
}  // namespace batchwise
