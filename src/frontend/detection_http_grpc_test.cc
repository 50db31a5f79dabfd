// The generated SSDlite320 detector (tools/gen_models.py) served by `batchwise serve`'s Server with
// the production engine factory: its four outputs (boxes, scores, labels, num_detections) equal
// PyTorch's reference outputs for batch 1 and for the reference batch of 4, through HTTP with JSON
// and with binary tensors, and through gRPC (skipped when models are not generated).
//
// The same images sent as PNG files (BYTES) are letterboxed by the server's pre-processing and
// give the same detections; at twice the size, boxes come back in the client's (doubled) pixels.
//
// Tolerance (docs/detection.md): boxes and scores within 1e-3 * max(1, max |reference|) (0.32 px
// for boxes on a 320 px input), labels and num_detections exactly equal.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "app/server.h"
#include "backend/testing/model_repo.h"
#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"
#include "grpc_service.grpc.pb.h"
#include "repository/reference.h"

namespace batchwise {
namespace {

using namespace testing;  // NOLINT: helpers
using nlohmann::json;

enum class Protocol { kJson, kBinary, kGrpc };
using Param = std::tuple<Protocol, int64_t>;  // protocol, batch size

// The first `n` samples of a reference tensor (a view).
Tensor FirstSamples(const Tensor& t, int64_t n) {
  Shape s = t.shape();
  const size_t row = t.byte_size() / static_cast<size_t>(s[0]);
  s[0] = n;
  return Tensor::Borrow(t.dtype(), s, t.bytes().subspan(0, row * n));
}

std::string Bytes(const Tensor& t) {
  return std::string(reinterpret_cast<const char*>(t.data()), t.byte_size());
}

// A JSON output ({"name","datatype","shape","data"}) as a tensor.
Tensor FromJsonOutput(const json& o) {
  const Shape shape = o["shape"].get<Shape>();
  const DataType dtype = ParseDataType(o["datatype"].get<std::string>()).value();
  if (dtype == DataType::kFp32) return Tensor::FromFloats(shape, o["data"].get<std::vector<float>>());
  const auto v = o["data"].get<std::vector<int32_t>>();
  return Tensor::CopyOf(dtype, shape, std::as_bytes(std::span<const int32_t>(v)));
}

// Reference image i (FP32 [3,320,320], values k/255) as a PNG file, scaled `factor` times
// (nearest neighbour, so a bilinear halving gives the original pixels back).
std::string Png(const Tensor& images, int64_t i, int factor) {
  const int64_t side = images.shape()[2], plane = side * side;
  const float* v = images.as<float>().data() + i * 3 * plane;
  cv::Mat bgr(static_cast<int>(side), static_cast<int>(side), CV_8UC3);
  for (int64_t p = 0; p < plane; ++p) {
    for (int c = 0; c < 3; ++c) {
      bgr.data[3 * p + (2 - c)] = static_cast<uint8_t>(std::lround(v[c * plane + p] * 255));
    }
  }
  cv::Mat scaled;
  cv::resize(bgr, scaled, cv::Size(), factor, factor, cv::INTER_NEAREST);
  std::vector<uchar> out;
  EXPECT_TRUE(cv::imencode(".png", scaled, out));
  return std::string(out.begin(), out.end());
}

// BYTES elements as the binary extension lays them out: a 4-byte little-endian length, the bytes.
std::string BytesElements(const std::vector<std::string>& files) {
  std::string out;
  for (const std::string& f : files) {
    const uint32_t n = static_cast<uint32_t>(f.size());
    out.append(reinterpret_cast<const char*>(&n), 4);
    out += f;
  }
  return out;
}

class KServeDetectionServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto model = LoadReferenceModel("ssdlite320");
    if (!model.ok()) {
      skip_ = NoModelsMessage(model.status());
      return;
    }
    ref_ = new ReferenceModel(std::move(model).value());
    auto s = Server::Create(RealModelServerOptions("ssdlite320", "bw_detection_tables", 0),
                            SystemClock());
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(s).value().release();
    ASSERT_TRUE(server_->load_failures().empty()) << server_->load_failures()[0];
  }
  static void TearDownTestSuite() {
    delete server_;
    delete ref_;
    server_ = nullptr;
    ref_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_NE(server_, nullptr);
  }

  // The server's outputs for the first `batch` reference images, named, over `protocol`.
  std::map<std::string, Tensor> Infer(Protocol protocol, int64_t batch) {
    const Tensor in = FirstSamples(ref_->ref_inputs[0], batch);
    switch (protocol) {
      case Protocol::kJson: return InferJson(in);
      case Protocol::kBinary: return InferBinary(in);
      case Protocol::kGrpc: return InferGrpc(in);
    }
    return {};
  }

  std::map<std::string, Tensor> InferJson(const Tensor& in) {
    const auto v = in.as<float>();
    json req = {{"inputs",
                 {{{"name", "images"},
                   {"datatype", "FP32"},
                   {"shape", in.shape()},
                   {"data", std::vector<float>(v.begin(), v.end())}}}}};
    HttpClient c(server_->http_port());
    auto r = c.Post("/v2/models/ssdlite320/infer", req.dump());
    EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
    std::map<std::string, Tensor> out;
    if (r.status != 200) return out;
    const json j = json::parse(r.body);
    for (const auto& o : j["outputs"]) out[o["name"]] = FromJsonOutput(o);
    return out;
  }

  std::map<std::string, Tensor> InferBinary(const Tensor& in) {
    std::vector<long> shape(in.shape().begin(), in.shape().end());
    return PostBinary({"images", "FP32", shape, Bytes(in)});
  }

  std::map<std::string, Tensor> PostBinary(const BinaryInput& input) {
    size_t json_size = 0;
    std::string body = BinaryBody({input}, true, json_size);
    HttpClient c(server_->http_port());
    auto r = c.Post("/v2/models/ssdlite320/infer", body,
                    {"Inference-Header-Content-Length: " + std::to_string(json_size)});
    EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
    std::map<std::string, Tensor> out;
    if (r.status != 200) return out;
    const size_t header = std::stoul(r.headers.at("inference-header-content-length"));
    size_t offset = header;
    const json head = json::parse(r.body.substr(0, header));
    for (const auto& o : head["outputs"]) {
      const size_t size = o["parameters"]["binary_data_size"].get<size_t>();
      const DataType dtype = ParseDataType(o["datatype"].get<std::string>()).value();
      out[o["name"]] = Tensor::CopyOf(dtype, o["shape"].get<Shape>(),
                                      std::as_bytes(std::span(r.body.data() + offset, size)));
      offset += size;
    }
    EXPECT_EQ(offset, r.body.size());
    return out;
  }

  std::map<std::string, Tensor> InferGrpc(const Tensor& in) {
    auto stub = inference::GRPCInferenceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(server_->grpc_port()), grpc::InsecureChannelCredentials()));
    inference::ModelInferRequest req;
    req.set_model_name("ssdlite320");
    auto* t = req.add_inputs();
    t->set_name("images");
    t->set_datatype("FP32");
    for (int64_t d : in.shape()) t->add_shape(d);
    req.add_raw_input_contents(Bytes(in));
    inference::ModelInferResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = stub->ModelInfer(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, Tensor> out;
    EXPECT_EQ(resp.raw_output_contents_size(), resp.outputs_size());
    for (int i = 0; i < resp.outputs_size() && i < resp.raw_output_contents_size(); ++i) {
      const auto& o = resp.outputs(i);
      const std::string& raw = resp.raw_output_contents(i);
      out[o.name()] = Tensor::CopyOf(ParseDataType(o.datatype()).value(),
                                     Shape(o.shape().begin(), o.shape().end()),
                                     std::as_bytes(std::span(raw.data(), raw.size())));
    }
    return out;
  }

  // Every output of `got` equals the reference's first `batch` samples, boxes scaled by `scale`.
  void ExpectReference(std::map<std::string, Tensor>& got, int64_t batch, float scale = 1) {
    for (size_t i = 0; i < ref_->outputs.size(); ++i) {
      const std::string& name = ref_->outputs[i].name;
      ASSERT_TRUE(got.count(name)) << name;
      Tensor want = FirstSamples(ref_->ref_outputs[i], batch);
      if (name == "boxes" && scale != 1) {
        auto v = want.as<float>();
        std::vector<float> scaled(v.begin(), v.end());
        for (float& x : scaled) x *= scale;
        want = Tensor::FromFloats(want.shape(), scaled);
      }
      auto cmp = CompareToReference(got[name], want);
      ASSERT_TRUE(cmp.ok()) << name << ": " << cmp.status();
      EXPECT_TRUE(cmp->ok()) << name << ": max abs diff " << cmp->max_abs_diff << " > "
                             << cmp->tolerance;
    }
    // The reference images have detections (the comparison is not of zero padding only).
    EXPECT_GT(got["num_detections"].as<int32_t>()[0], 0);
  }

  static inline std::string skip_;
  static inline ReferenceModel* ref_ = nullptr;
  static inline Server* server_ = nullptr;
};

class KServeDetectionTest : public KServeDetectionServer,
                            public ::testing::WithParamInterface<Param> {};

TEST_P(KServeDetectionTest, OutputsEqualPyTorchsReference) {
  const auto [protocol, batch] = GetParam();
  std::map<std::string, Tensor> got = Infer(protocol, batch);
  ASSERT_EQ(got.size(), 4u);
  ExpectReference(got, batch);
}

// PNG files of the reference images, at 320x320 (letterboxed to themselves) and at 640x640
// (letterboxed down by 2, which gives the same pixels back): the same detections, boxes in the
// client's pixels; the class names output on request.
TEST_F(KServeDetectionServer, PngFilesAreLetterboxedAndBoxesMappedBack) {
  for (int factor : {1, 2}) {
    std::vector<std::string> files;
    for (int64_t i = 0; i < 4; ++i) files.push_back(Png(ref_->ref_inputs[0], i, factor));
    std::map<std::string, Tensor> got =
        PostBinary({"images", "BYTES", {4}, BytesElements(files)});
    ASSERT_EQ(got.size(), 4u) << "factor " << factor;
    ExpectReference(got, 4, static_cast<float>(factor));
  }
}

TEST_F(KServeDetectionServer, LabelNamesComeFromTheClassNamesFile) {
  json req = {{"inputs",
               {{{"name", "images"}, {"datatype", "BYTES"}, {"shape", {1}},
                 {"parameters", {{"binary_data_size", 0}}}}}},
              {"outputs", {{{"name", "label_names"}}, {{"name", "labels"}}}}};
  const std::string file = Png(ref_->ref_inputs[0], 0, 1);
  const std::string element = BytesElements({file});
  req["inputs"][0]["parameters"]["binary_data_size"] = element.size();
  const std::string header = req.dump();
  HttpClient c(server_->http_port());
  auto r = c.Post("/v2/models/ssdlite320/infer", header + element,
                  {"Inference-Header-Content-Length: " + std::to_string(header.size())});
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  json j = json::parse(r.body);
  ASSERT_EQ(j["outputs"].size(), 2u);
  EXPECT_EQ(j["outputs"][0]["name"], "label_names");
  EXPECT_EQ(j["outputs"][0]["datatype"], "BYTES");
  const auto names = j["outputs"][0]["data"].get<std::vector<std::string>>();
  const auto labels = j["outputs"][1]["data"].get<std::vector<int>>();
  ASSERT_EQ(names.size(), 100u);
  std::ifstream in(ref_->dir + "/classes.txt");
  std::vector<std::string> classes;
  for (std::string line; std::getline(in, line);) classes.push_back(line);
  ASSERT_EQ(classes.size(), 91u);
  EXPECT_EQ(classes[1], "person");
  const int count = ref_->ref_outputs[3].as<int32_t>()[0];
  for (int k = 0; k < 100; ++k) {
    ASSERT_GE(labels[k], 0);
    ASSERT_LT(labels[k], 91);
    EXPECT_EQ(names[k], k < count ? classes[labels[k]] : "") << k;
  }
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  const char* names[] = {"Json", "Binary", "Grpc"};
  return std::string(names[static_cast<int>(std::get<0>(info.param))]) + "Batch" +
         std::to_string(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Protocols, KServeDetectionTest,
                         ::testing::Combine(::testing::Values(Protocol::kJson, Protocol::kBinary,
                                                              Protocol::kGrpc),
                                            ::testing::Values(int64_t{1}, int64_t{4})),
                         ParamName);

}  // namespace
}  // namespace batchwise
