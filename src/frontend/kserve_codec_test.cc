#include "frontend/kserve_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

namespace batchwise::kserve {
namespace {

std::shared_ptr<const std::string> Body(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

Result<DecodedInferRequest> DecodeJson(const std::string& s) {
  return DecodeInferRequest(Body(s), std::nullopt);
}

std::string Floats(std::initializer_list<float> v) {
  std::string out(v.size() * 4, '\0');
  std::memcpy(out.data(), std::data(v), out.size());
  return out;
}

TEST(KServeCodecTest, DecodesJsonTensorsFlatAndNested) {
  auto r = DecodeJson(R"({"id":"a","inputs":[
      {"name":"x","datatype":"FP32","shape":[2,2],"data":[[1,2],[3,4.5]]},
      {"name":"n","datatype":"INT64","shape":[3],"data":[-1,0,9007199254740993]}],
      "outputs":[{"name":"y","parameters":{"binary_data":true}}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->request.id, "a");
  ASSERT_EQ(r->request.inputs.size(), 2u);
  const auto x = r->request.inputs[0].tensor.as<float>();
  EXPECT_EQ(std::vector<float>(x.begin(), x.end()), (std::vector<float>{1, 2, 3, 4.5}));
  EXPECT_EQ(r->request.inputs[1].tensor.as<int64_t>()[2], 9007199254740993LL);
  EXPECT_EQ(r->request.requested_outputs, std::vector<std::string>{"y"});
  EXPECT_TRUE(r->encoding.Binary("y"));
  EXPECT_FALSE(r->encoding.Binary("z"));
}

TEST(KServeCodecTest, DecodesBinaryTensorsAfterTheJsonHeader) {
  const std::string header =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"parameters":{"binary_data_size":12}},)"
      R"({"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":7}}],)"
      R"("parameters":{"binary_data_output":true}})";
  std::string bytes(
      "\x03\x00\x00\x00"
      "abc",
      7);
  auto r = DecodeInferRequest(Body(header + Floats({1, 2, 3}) + bytes), header.size());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->request.inputs[0].tensor.as<float>()[2], 3.0f);
  EXPECT_EQ(r->request.inputs[1].tensor.byte_size(), 7u);
  EXPECT_TRUE(r->encoding.Binary("anything"));
}

TEST(KServeCodecTest, AcceptsTheHeaderWhenTheWholeBodyIsJson) {
  const std::string body =
      R"({"inputs":[{"name":"x","datatype":"BOOL","shape":[2],"data":[true,false]}]})";
  auto r = DecodeInferRequest(Body(body), body.size());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->request.inputs[0].tensor.byte_size(), 2u);
}

TEST(KServeCodecTest, BytesFromJsonGetLengthPrefixes) {
  auto r =
      DecodeJson(R"({"inputs":[{"name":"s","datatype":"BYTES","shape":[2],"data":["hi",""]}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->request.inputs[0].tensor.byte_size(), 4u + 2 + 4);
  EXPECT_TRUE(r->request.inputs[0].tensor.Validate().ok());
}

struct BadCase {
  const char* body;
  const char* says;
};

class KServeCodecBadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(KServeCodecBadInputTest, IsInvalidArgumentThatSaysWhatWasWrong) {
  auto r = DecodeJson(GetParam().body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(GetParam().says), std::string::npos) << r.status();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, KServeCodecBadInputTest,
    ::testing::Values(
        BadCase{"{", "malformed JSON"}, BadCase{"[]", "JSON object"},
        BadCase{R"({"x":1})", "no \"inputs\""},
        BadCase{R"({"inputs":[{"datatype":"FP32","shape":[1],"data":[1]}]})", "no \"name\""},
        BadCase{R"({"inputs":[{"name":"x","datatype":"FP33","shape":[1],"data":[1]}]})",
                "not a KServe datatype"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1]}]})",
                "has 1 elements"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1,2]}]})",
                "has more elements"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"FP32","shape":[-1],"data":[1]}]})",
                "negative dimension"},
        BadCase{
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1099511627776,1099511627776],"data":[1]}]})",
            "too many elements"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"UINT8","shape":[1],"data":[300]}]})",
                "not a valid UINT8"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[-129]}]})",
                "not a valid INT8"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[1e39]}]})",
                "not a valid FP32"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"FP16","shape":[1],"data":[70000]}]})",
                "not a valid FP16"},
        BadCase{
            R"({"inputs":[{"name":"x","datatype":"UINT8","shape":[1,4011275626538389761,53523,3],"data":[1]}]})",
            "too many elements"},
        BadCase{
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data":[1]}]})",
            "more than 16 dimensions"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":["a"]}]})",
                "not a valid INT32"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1]}]})", "neither"},
        BadCase{
            R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":4}}]})",
            "runs past the end"},
        BadCase{R"({"id":5,"inputs":[]})", "\"id\" must be a string"},
        BadCase{R"({"inputs":[],"outputs":[{"name":"y","parameters":{"classification":2}}]})",
                "classification"},
        BadCase{R"({"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":[1]}]})",
                "must be strings"}));

// Found by kserve_codec_fuzz: the element count of the shape alone sized an allocation (16 bytes
// an element) before the data was counted. A 2^40-element claim with two values must be refused
// without allocating for the claim (under ASan's 2 GB limit in the fuzzer; a crash before).
TEST(KServeCodecTest, ShapeClaimingMoreThanTheDataIsRefusedWithoutAllocatingForTheClaim) {
  for (const char* shape : {"[23,4444442,2]", "[1048576,1048576]"}) {
    auto r = DecodeJson(std::string(R"({"inputs":[{"name":"x","datatype":"FP32","shape":)") +
                        shape + R"(,"data":[[1,8]]}]})");
    ASSERT_FALSE(r.ok()) << shape;
    EXPECT_NE(r.status().message().find("has 2 elements"), std::string::npos) << r.status();
  }
}

TEST(KServeCodecTest, TrailingBinaryBytesThatNoInputClaimsAreRejected) {
  const std::string header = R"({"inputs":[]})";
  auto r = DecodeInferRequest(Body(header + "xyz"), header.size());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("3 bytes follow"), std::string::npos) << r.status();
}

TEST(KServeCodecTest, HeaderLengthBeyondTheBodyIsRejected) {
  auto r = DecodeInferRequest(Body("{}"), 10);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("exceeds the body"), std::string::npos);
  EXPECT_FALSE(ParseJsonHeaderLength("12x").ok());
  EXPECT_FALSE(ParseJsonHeaderLength("").ok());
  EXPECT_EQ(*ParseJsonHeaderLength("42"), 42u);
}

TEST(KServeCodecTest, BinaryBytesTensorWithBadPrefixIsRejected) {
  const std::string header =
      R"({"inputs":[{"name":"s","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":4}}]})";
  auto r = DecodeInferRequest(Body(header + std::string("\x09\x00\x00\x00", 4)), header.size());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("input 's'"), std::string::npos) << r.status();
}

TEST(KServeCodecTest, DeeplyNestedValuesAreRejectedWithoutRecursing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string& field : {std::string("shape"), std::string("data")}) {
    const std::string body = R"({"inputs":[{"name":"x","datatype":"FP32",)" +
                             std::string(field == "shape" ? R"("data":[1],)" : R"("shape":[1],)") +
                             "\"" + field + "\":" + deep + "}]}";
    auto r = DecodeJson(body);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_LT(r.status().message().size(), 400u) << r.status();
  }
}

TEST(KServeCodecTest, EncodesJsonAndBinaryOutputs) {
  InferResponse resp;
  resp.model = "m";
  resp.id = "7";
  resp.processor = "cpu:0";
  resp.outputs.push_back({"y", Tensor::FromFloats({1, 2}, std::vector<float>{0.5f, -1})});
  resp.outputs.push_back({"z", Tensor::FromFloats({1, 1}, std::vector<float>{3})});
  OutputEncoding enc;
  enc.binary_by_output["z"] = true;
  auto e = EncodeInferResponse(resp, enc);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_TRUE(e->json_size.has_value());
  const std::string json = e->body.substr(0, *e->json_size);
  EXPECT_NE(json.find(R"("data":[0.5,-1.0])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("binary_data_size":4)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("id":"7")"), std::string::npos) << json;
  float z;
  ASSERT_EQ(e->body.size(), *e->json_size + 4);
  std::memcpy(&z, e->body.data() + *e->json_size, 4);
  EXPECT_EQ(z, 3.0f);
}

TEST(KServeCodecTest, Fp16RoundTripsThroughJson) {
  auto r = DecodeJson(
      R"({"inputs":[{"name":"h","datatype":"FP16","shape":[3],"data":[1.5,-2,65504]}]})");
  ASSERT_TRUE(r.ok()) << r.status();
  InferResponse resp;
  resp.outputs.push_back({"h", r->request.inputs[0].tensor});
  auto e = EncodeInferResponse(resp, {});
  ASSERT_TRUE(e.ok());
  EXPECT_NE(e->body.find("[1.5,-2.0,65504.0]"), std::string::npos) << e->body;
}

TEST(KServeCodecTest, EncodedHeaderIsJsonWithEveryFieldAndEscapedStrings) {
  InferResponse resp;
  resp.model = "m\"odel\\\n\xc3\xa9";  // a quote, a backslash, a newline, UTF-8
  resp.id = "id\t1";
  resp.processor = "cpu:0-1";
  resp.simulated = true;
  resp.outputs.push_back({"y\"", Tensor::FromFloats({2, 1}, std::vector<float>{0.5f, 2})});
  resp.outputs.push_back({"z", Tensor::FromFloats({1}, std::vector<float>{3})});
  OutputEncoding enc;
  enc.binary_by_output["z"] = true;
  auto e = EncodeInferResponse(resp, enc);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_TRUE(e->json_size.has_value());
  const auto j = nlohmann::json::parse(e->body.substr(0, *e->json_size));
  EXPECT_EQ(j["model_name"], resp.model);
  EXPECT_EQ(j["model_version"], "1");
  EXPECT_EQ(j["id"], resp.id);
  EXPECT_EQ(j["parameters"]["processor"], "cpu:0-1");
  EXPECT_EQ(j["parameters"]["simulated"], true);
  ASSERT_EQ(j["outputs"].size(), 2u);
  EXPECT_EQ(j["outputs"][0]["name"], "y\"");
  EXPECT_EQ(j["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json({2, 1}));
  EXPECT_EQ(j["outputs"][0]["data"], nlohmann::json({0.5, 2.0}));
  EXPECT_FALSE(j["outputs"][0].contains("parameters"));
  EXPECT_EQ(j["outputs"][1]["shape"], nlohmann::json({1}));
  EXPECT_EQ(j["outputs"][1]["parameters"]["binary_data_size"], 4);
  EXPECT_FALSE(j["outputs"][1].contains("data"));
  // No id, no outputs: still a whole object.
  InferResponse bare;
  bare.model = "m";
  auto b = EncodeInferResponse(bare, {});
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->json_size.has_value());
  const auto jb = nlohmann::json::parse(b->body);
  EXPECT_FALSE(jb.contains("id"));
  EXPECT_EQ(jb["outputs"], nlohmann::json::array());
  EXPECT_EQ(jb["parameters"]["simulated"], false);
}

}  // namespace
}  // namespace batchwise::kserve
