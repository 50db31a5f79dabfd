// The system shared-memory extension end to end over both protocols: a real Server (fake
// engines), a region the test creates with shm_open, inputs read from it and outputs written
// into it; status, unregister and each error. (HTTP lives here too so that both protocols are
// checked against the same region and answers.)
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"
#include "grpc_service.grpc.pb.h"
#include "service/testing/shm_object.h"

namespace batchwise {
namespace {

using namespace testing;    // NOLINT: the fixtures
using namespace inference;  // NOLINT: the generated messages
using nlohmann::json;

// Region layout: x FP32 [2,4] at 0 (32 bytes), y FP32 [2,2] at 64 (16 bytes).
constexpr int kRegionBytes = 128, kXOffset = 0, kYOffset = 64;

class SharedMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeServerOptions o;
    o.grpc_port = 0;
    server_ = std::make_unique<FakeModelServer>(o);
    stub_ = GRPCInferenceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
    http_ = std::make_unique<HttpClient>(server_->port());
    ASSERT_TRUE(shm_.ok());
    const float x[8] = {3, 0, 0, 0, -5, 1, 1, 1};  // tiny answers each row's first value twice
    shm_.Put(kXOffset, x, 8);
  }

  grpc::Status Register(const std::string& name, const std::string& key, uint64_t offset,
                        uint64_t size) {
    grpc::ClientContext ctx;
    SystemSharedMemoryRegisterRequest req;
    req.set_name(name);
    req.set_key(key);
    req.set_offset(offset);
    req.set_byte_size(size);
    SystemSharedMemoryRegisterResponse resp;
    return stub_->SystemSharedMemoryRegister(&ctx, req, &resp);
  }

  static void SetShm(google::protobuf::Map<std::string, InferParameter>& p, const std::string& r,
                     int64_t size, int64_t offset) {
    p["shared_memory_region"].set_string_param(r);
    p["shared_memory_byte_size"].set_int64_param(size);
    p["shared_memory_offset"].set_int64_param(offset);
  }

  // x and y both in region `r`; `y_size`: the output window's size.
  static ModelInferRequest ShmInfer(const std::string& r, int64_t y_size = 16) {
    ModelInferRequest req;
    req.set_model_name("tiny");
    auto* x = req.add_inputs();
    x->set_name("x");
    x->set_datatype("FP32");
    x->add_shape(2);
    x->add_shape(4);
    SetShm(*x->mutable_parameters(), r, 32, kXOffset);
    auto* y = req.add_outputs();
    y->set_name("y");
    SetShm(*y->mutable_parameters(), r, y_size, kYOffset);
    return req;
  }

  grpc::Status Infer(const ModelInferRequest& req, ModelInferResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return stub_->ModelInfer(&ctx, req, resp);
  }

  std::vector<float> Y() const {
    std::vector<float> y;
    for (int i = 0; i < 4; ++i) y.push_back(shm_.Get<float>(kYOffset + 4 * i));
    return y;
  }

  static std::string HttpInferBody(const std::string& r, int y_size = 16) {
    return json{
        {"inputs",
         {{{"name", "x"},
           {"datatype", "FP32"},
           {"shape", {2, 4}},
           {"parameters", {{"shared_memory_region", r}, {"shared_memory_byte_size", 32}}}}}},
        {"outputs",
         {{{"name", "y"},
           {"parameters",
            {{"shared_memory_region", r},
             {"shared_memory_byte_size", y_size},
             {"shared_memory_offset", kYOffset}}}}}}}
        .dump();
  }

  ShmObject shm_{kRegionBytes};
  std::unique_ptr<FakeModelServer> server_;
  std::unique_ptr<GRPCInferenceService::Stub> stub_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(SharedMemoryTest, GrpcReadsInputsAndWritesOutputsInTheRegion) {
  ASSERT_TRUE(Register("io", shm_.key(), 0, kRegionBytes).ok());
  ModelInferResponse resp;
  grpc::Status s = Infer(ShmInfer("io"), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Y(), (std::vector<float>{3, 3, -5, -5}));
  ASSERT_EQ(resp.outputs_size(), 1);
  EXPECT_EQ(resp.outputs(0).parameters().at("shared_memory_region").string_param(), "io");
  EXPECT_EQ(resp.outputs(0).parameters().at("shared_memory_byte_size").int64_param(), 16);
  ASSERT_EQ(resp.raw_output_contents_size(), 1);  // one entry per output, empty: it is in shm
  EXPECT_TRUE(resp.raw_output_contents(0).empty());

  grpc::ClientContext c1;
  SystemSharedMemoryStatusResponse status;
  ASSERT_TRUE(stub_->SystemSharedMemoryStatus(&c1, {}, &status).ok());
  ASSERT_EQ(status.regions().size(), 1u);
  const auto& region = status.regions().at("io");
  EXPECT_EQ(region.key(), shm_.key());
  EXPECT_EQ(region.offset(), 0u);
  EXPECT_EQ(region.byte_size(), static_cast<uint64_t>(kRegionBytes));

  grpc::ClientContext c2;
  SystemSharedMemoryUnregisterRequest unregister;
  unregister.set_name("io");
  SystemSharedMemoryUnregisterResponse done;
  ASSERT_TRUE(stub_->SystemSharedMemoryUnregister(&c2, unregister, &done).ok());
  EXPECT_EQ(Infer(ShmInfer("io"), &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext c3;
  SystemSharedMemoryStatusRequest one;
  one.set_name("io");
  EXPECT_EQ(stub_->SystemSharedMemoryStatus(&c3, one, &status).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SharedMemoryTest, GrpcErrorsSayWhatIsWrong) {
  EXPECT_EQ(Register("io", "/batchwise_no_such_key", 0, 8).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Register("io", shm_.key(), 64, kRegionBytes).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // past the object's end
  ASSERT_TRUE(Register("io", shm_.key(), 0, kRegionBytes).ok());
  EXPECT_EQ(Register("io", shm_.key(), 0, 8).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  ModelInferResponse resp;
  grpc::Status small = Infer(ShmInfer("io", 8), &resp);  // the output needs 16 bytes
  EXPECT_EQ(small.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(small.error_message().find("output 'y' takes 16 bytes"), std::string::npos)
      << small.error_message();
  ModelInferRequest past = ShmInfer("io");
  SetShm(*past.mutable_inputs(0)->mutable_parameters(), "io", 32, kRegionBytes - 16);
  grpc::Status s = Infer(past, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("run past the end"), std::string::npos) << s.error_message();
  ModelInferRequest wrong_size = ShmInfer("io");
  SetShm(*wrong_size.mutable_inputs(0)->mutable_parameters(), "io", 28, 0);  // [2,4] FP32: 32
  EXPECT_EQ(Infer(wrong_size, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // CUDA shared memory: refused, saying why.
  grpc::ClientContext ctx;
  CudaSharedMemoryRegisterResponse cuda;
  grpc::Status c = stub_->CudaSharedMemoryRegister(&ctx, {}, &cuda);
  EXPECT_EQ(c.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(c.error_message().find("CUDA shared memory is not supported"), std::string::npos);
}

TEST_F(SharedMemoryTest, HttpReadsInputsAndWritesOutputsInTheRegion) {
  auto reg =
      http_->Post("/v2/systemsharedmemory/region/io/register",
                  json{{"key", shm_.key()}, {"offset", 0}, {"byte_size", kRegionBytes}}.dump());
  ASSERT_EQ(reg.status, 200) << reg.body;
  auto r = http_->Post("/v2/models/tiny/infer", HttpInferBody("io"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Y(), (std::vector<float>{3, 3, -5, -5}));
  const json out = json::parse(r.body)["outputs"][0];
  EXPECT_FALSE(out.contains("data"));
  EXPECT_EQ(out["parameters"]["shared_memory_region"], "io");
  EXPECT_EQ(out["parameters"]["shared_memory_byte_size"], 16);
  EXPECT_EQ(out["shape"], json({2, 2}));

  const json all = json::parse(http_->Get("/v2/systemsharedmemory/status").body);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(
      all[0],
      json({{"name", "io"}, {"key", shm_.key()}, {"offset", 0}, {"byte_size", kRegionBytes}}));
  EXPECT_EQ(json::parse(http_->Get("/v2/systemsharedmemory/region/io/status").body), all);
  // Both protocols share the registry.
  grpc::ClientContext ctx;
  SystemSharedMemoryStatusResponse status;
  ASSERT_TRUE(stub_->SystemSharedMemoryStatus(&ctx, {}, &status).ok());
  EXPECT_EQ(status.regions().count("io"), 1u);

  EXPECT_EQ(http_->Post("/v2/systemsharedmemory/region/io/unregister", "").status, 200);
  EXPECT_EQ(http_->Post("/v2/models/tiny/infer", HttpInferBody("io")).status, 404);
  EXPECT_EQ(http_->Get("/v2/systemsharedmemory/region/io/status").status, 404);
  // Unregister all.
  ASSERT_EQ(http_
                ->Post("/v2/systemsharedmemory/region/a/register",
                       json{{"key", shm_.key()}, {"byte_size", 8}}.dump())
                .status,
            200);
  EXPECT_EQ(http_->Post("/v2/systemsharedmemory/unregister", "").status, 200);
  EXPECT_EQ(json::parse(http_->Get("/v2/systemsharedmemory/status").body), json::array());
}

TEST_F(SharedMemoryTest, HttpErrorsSayWhatIsWrong) {
  auto missing = http_->Post("/v2/systemsharedmemory/region/io/register",
                             json{{"key", "/batchwise_no_such_key"}, {"byte_size", 8}}.dump());
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_NE(missing.body.find("no shared-memory object"), std::string::npos) << missing.body;
  EXPECT_EQ(http_->Post("/v2/systemsharedmemory/region/io/register", "{\"key\":1}").status, 400);
  EXPECT_EQ(http_
                ->Post("/v2/systemsharedmemory/region/io/register",
                       json{{"key", shm_.key()}, {"offset", 100}, {"byte_size", 100}}.dump())
                .status,
            400);
  EXPECT_EQ(http_->Get("/v2/systemsharedmemory/region/io/register").status, 405);
  EXPECT_EQ(http_->Post("/v2/systemsharedmemory/region/io/unregister", "").status, 404);
  ASSERT_EQ(http_
                ->Post("/v2/systemsharedmemory/region/io/register",
                       json{{"key", shm_.key()}, {"byte_size", kRegionBytes}}.dump())
                .status,
            200);
  EXPECT_EQ(http_
                ->Post("/v2/systemsharedmemory/region/io/register",
                       json{{"key", shm_.key()}, {"byte_size", 8}}.dump())
                .status,
            409);
  auto small = http_->Post("/v2/models/tiny/infer", HttpInferBody("io", 8));
  EXPECT_EQ(small.status, 400);
  EXPECT_NE(small.body.find("output 'y' takes 16 bytes"), std::string::npos) << small.body;
  auto cuda = http_->Get("/v2/cudasharedmemory/status");
  EXPECT_EQ(cuda.status, 501);
  EXPECT_NE(cuda.body.find("CUDA shared memory is not supported"), std::string::npos);
}

}  // namespace
}  // namespace batchwise
