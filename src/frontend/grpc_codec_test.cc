// The gRPC codec alone: typed and raw inputs into tensors (raw ones moved, not copied), outputs
// into raw_output_contents; and the status-code mapping both ways.
#include "frontend/grpc_codec.h"

#include <gtest/gtest.h>

#include <cstring>

#include "common/bytes_tensor.h"
#include "frontend/grpc_status.h"

namespace batchwise::kserve {
namespace {

using inference::ModelInferRequest;
using inference::ModelInferResponse;

ModelInferRequest::InferInputTensor* AddInput(ModelInferRequest& r, const std::string& name,
                                              const std::string& dtype, Shape shape) {
  auto* in = r.add_inputs();
  in->set_name(name);
  in->set_datatype(dtype);
  for (int64_t d : shape) in->add_shape(d);
  return in;
}

TEST(GrpcCodecTest, RawInputsAreMovedIntoTheTensorsNotCopied) {
  ModelInferRequest r;
  r.set_id("abc");
  AddInput(r, "a", "FP32", {2, 2});
  AddInput(r, "b", "INT64", {1});
  std::vector<float> a = {1, 2, 3, 4};
  r.add_raw_input_contents(std::string(reinterpret_cast<const char*>(a.data()), 16));
  int64_t b = 42;
  r.add_raw_input_contents(std::string(reinterpret_cast<const char*>(&b), 8));
  const char* bytes_of_a = r.raw_input_contents(0).data();
  auto d = DecodeGrpcInferRequest(r);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->id, "abc");
  ASSERT_EQ(d->inputs.size(), 2u);
  EXPECT_EQ(d->inputs[0].name, "a");
  EXPECT_EQ(d->inputs[0].tensor.shape(), (Shape{2, 2}));
  EXPECT_FALSE(d->inputs[0].tensor.owns_storage());
  EXPECT_EQ(reinterpret_cast<const char*>(d->inputs[0].tensor.data()), bytes_of_a);  // no copy
  EXPECT_EQ(r.raw_input_contents_size(), 0);  // the request gave them up
  const auto av = d->inputs[0].tensor.as<float>();
  EXPECT_EQ(std::vector<float>(av.begin(), av.end()), a);
  EXPECT_EQ(d->inputs[1].tensor.as<int64_t>()[0], 42);
  // The tensors outlive the request message.
  r = ModelInferRequest();
  EXPECT_EQ(d->inputs[0].tensor.as<float>()[3], 4.0f);
}

TEST(GrpcCodecTest, TypedContentsOfEveryDatatypeBecomeTensorBytes) {
  ModelInferRequest r;
  auto* i8c = AddInput(r, "i8", "INT8", {3})->mutable_contents();
  for (int v : {-1, 2, 127}) i8c->add_int_contents(v);
  auto* u16c = AddInput(r, "u16", "UINT16", {2})->mutable_contents();
  for (unsigned v : {7u, 65535u}) u16c->add_uint_contents(v);
  auto* bc = AddInput(r, "b", "BOOL", {2})->mutable_contents();
  bc->add_bool_contents(true);
  bc->add_bool_contents(false);
  AddInput(r, "f64", "FP64", {1})->mutable_contents()->add_fp64_contents(0.5);
  AddInput(r, "u64", "UINT64", {1})->mutable_contents()->add_uint64_contents(1ull << 40);
  auto* s = AddInput(r, "s", "BYTES", {2})->mutable_contents();
  s->add_bytes_contents("hi");
  s->add_bytes_contents("");
  auto d = DecodeGrpcInferRequest(r);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->inputs.size(), 6u);
  auto i8 = d->inputs[0].tensor.as<int8_t>();
  EXPECT_EQ(std::vector<int8_t>(i8.begin(), i8.end()), (std::vector<int8_t>{-1, 2, 127}));
  auto u16 = d->inputs[1].tensor.as<uint16_t>();
  EXPECT_EQ(std::vector<uint16_t>(u16.begin(), u16.end()), (std::vector<uint16_t>{7, 65535}));
  EXPECT_EQ(d->inputs[2].tensor.byte_size(), 2u);
  EXPECT_EQ(d->inputs[2].tensor.as<uint8_t>()[0], 1);
  EXPECT_EQ(d->inputs[2].tensor.as<uint8_t>()[1], 0);
  EXPECT_EQ(d->inputs[3].tensor.as<double>()[0], 0.5);
  EXPECT_EQ(d->inputs[4].tensor.as<uint64_t>()[0], 1ull << 40);
  auto elements = BytesElements(d->inputs[5].tensor);
  ASSERT_TRUE(elements.ok()) << elements.status();
  EXPECT_EQ(std::vector<std::string>(elements->begin(), elements->end()),
            (std::vector<std::string>{"hi", ""}));
}

TEST(GrpcCodecTest, BadInputsAreInvalidArgumentsThatSayWhy) {
  struct Case {
    std::function<void(ModelInferRequest&)> make;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {[](auto& r) {
              AddInput(r, "h", "FP16", {1})->mutable_contents()->add_fp32_contents(1);
            },
            "raw_input_contents"},
           {[](auto& r) {
              AddInput(r, "f", "FP32", {2})->mutable_contents()->add_fp32_contents(1);
            },
            "1 elements"},
           {[](auto& r) { AddInput(r, "", "FP32", {0}); }, "no name"},
           {[](auto& r) { AddInput(r, "f", "float32", {1}); }, "float32"},
           {[](auto& r) {
              AddInput(r, "f", "FP32", {1});
              r.add_raw_input_contents("abc");
            },
            "f"},
           {[](auto& r) {
              AddInput(r, "s", "BYTES", {1});
              r.add_raw_input_contents(std::string("\x09\0\0\0ab", 6));  // length runs past
            },
            "s"},
           {[](auto& r) {
              AddInput(r, "f", "FP32", {1})->mutable_contents()->add_fp32_contents(1);
              r.add_outputs()
                  ->mutable_parameters()
                  ->
                  operator[]("classification")
                  .set_int64_param(3);
              r.mutable_outputs(0)->set_name("y");
            },
            "classification"},
       }) {
    ModelInferRequest r;
    c.make(r);
    auto d = DecodeGrpcInferRequest(r);
    ASSERT_FALSE(d.ok()) << c.says;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << d.status();
    EXPECT_NE(d.status().message().find(c.says), std::string::npos) << d.status();
  }
}

TEST(GrpcCodecTest, TimeoutParameterIsMicroseconds) {
  ModelInferRequest r;
  (*r.mutable_parameters())["timeout"].set_int64_param(2500);
  auto d = DecodeGrpcInferRequest(r);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->timeout, std::chrono::microseconds(2500));
  (*r.mutable_parameters())["timeout"].set_int64_param(-1);
  EXPECT_EQ(DecodeGrpcInferRequest(r).status().code(), StatusCode::kInvalidArgument);
}

TEST(GrpcCodecTest, ResponseCarriesOutputsAsRawContentsInOrder) {
  InferResponse resp;
  resp.model = "m";
  resp.id = "7";
  resp.processor = "sim:a100";
  resp.simulated = true;
  resp.outputs.push_back({"p", Tensor::FromFloats({1, 2}, std::vector<float>{0.25f, 0.75f})});
  resp.outputs.push_back({"s", MakeBytesTensor({1}, {"ok"})});
  ModelInferResponse out;
  ASSERT_TRUE(EncodeGrpcInferResponse(resp, out).ok());
  EXPECT_EQ(out.model_name(), "m");
  EXPECT_EQ(out.model_version(), "1");
  EXPECT_EQ(out.id(), "7");
  EXPECT_EQ(out.parameters().at("processor").string_param(), "sim:a100");
  EXPECT_TRUE(out.parameters().at("simulated").bool_param());
  ASSERT_EQ(out.outputs_size(), 2);
  EXPECT_EQ(out.outputs(0).name(), "p");
  EXPECT_EQ(out.outputs(0).datatype(), "FP32");
  EXPECT_EQ(out.outputs(0).shape_size(), 2);
  EXPECT_EQ(out.outputs(1).datatype(), "BYTES");
  ASSERT_EQ(out.raw_output_contents_size(), 2);
  float p[2];
  ASSERT_EQ(out.raw_output_contents(0).size(), 8u);
  std::memcpy(p, out.raw_output_contents(0).data(), 8);
  EXPECT_EQ(p[0], 0.25f);
  EXPECT_EQ(p[1], 0.75f);
  EXPECT_EQ(out.raw_output_contents(1), std::string("\x02\0\0\0ok", 6));
}

TEST(GrpcStatusTest, EveryCodeMapsToItsGrpcCodeAndBack) {
  const std::vector<std::pair<StatusCode, grpc::StatusCode>> pairs = {
      {StatusCode::kOk, grpc::StatusCode::OK},
      {StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
      {StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED}};
  for (const auto& [ours, theirs] : pairs) {
    EXPECT_EQ(GrpcCodeFor(ours), theirs) << StatusCodeName(ours);
    EXPECT_EQ(StatusCodeForGrpcCode(theirs), ours) << StatusCodeName(ours);
  }
  EXPECT_EQ(StatusCodeForGrpcCode(grpc::StatusCode::UNKNOWN), StatusCode::kInternal);
  const Status s = FromGrpcStatus(ToGrpcStatus(NotFound("no such model")));
  EXPECT_EQ(s, NotFound("no such model"));
  EXPECT_TRUE(ToGrpcStatus(Status::Ok()).ok());
}

}  // namespace
}  // namespace batchwise::kserve
