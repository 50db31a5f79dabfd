// Micro-benchmarks of the KServe v2 codec on the HTTP hot path: decoding the MLP forecaster's
// 1-sample binary request (what `batchwise bench` sends) and a JSON one, and encoding its
// response with a binary output and with a JSON one. Results are in docs/benchmarks-micro.md.
#include <benchmark/benchmark.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "frontend/kserve_codec.h"
#include "loadgen/kserve_load.h"

namespace batchwise::kserve {
namespace {

// The MLP forecaster's metadata as GET /v2/models/mlp_forecaster serves it.
nlohmann::json MlpMetadata() {
  return {{"name", "mlp_forecaster"},
          {"inputs", {{{"name", "features"}, {"datatype", "FP32"}, {"shape", {-1, 48}}}}},
          {"outputs", {{{"name", "forecast"}, {"datatype", "FP32"}, {"shape", {-1, 24}}}}}};
}

void BM_DecodeBinaryRequest(benchmark::State& state) {
  auto request = BuildInferRequest(MlpMetadata(), 1, 7);
  if (!request.ok()) return state.SkipWithError(request.status().ToString().c_str());
  // The server decodes a body it owns; copy once, as the HTTP layer hands it over.
  auto body = std::make_shared<const std::string>(*request->body);
  for (auto _ : state) {
    auto decoded = DecodeInferRequest(body, request->json_size);
    benchmark::DoNotOptimize(decoded);
  }
}
BENCHMARK(BM_DecodeBinaryRequest);

void BM_DecodeJsonRequest(benchmark::State& state) {
  nlohmann::json data = nlohmann::json::array();
  for (int i = 0; i < 48; ++i) data.push_back(0.25 * i);
  const nlohmann::json j = {
      {"inputs",
       {{{"name", "features"}, {"datatype", "FP32"}, {"shape", {1, 48}}, {"data", data}}}}};
  auto body = std::make_shared<const std::string>(j.dump());
  for (auto _ : state) {
    auto decoded = DecodeInferRequest(body, std::nullopt);
    benchmark::DoNotOptimize(decoded);
  }
}
BENCHMARK(BM_DecodeJsonRequest);

InferResponse MlpResponse() {
  InferResponse r;
  r.model = "mlp_forecaster";
  r.processor = "cpu:0";
  r.outputs.push_back({"forecast", Tensor::FromFloats({1, 24}, std::vector<float>(24, 0.5f))});
  return r;
}

void BM_EncodeResponse(benchmark::State& state) {
  const InferResponse response = MlpResponse();
  OutputEncoding encoding;
  encoding.binary_default = state.range(0) != 0;
  for (auto _ : state) {
    auto encoded = EncodeInferResponse(response, encoding);
    benchmark::DoNotOptimize(encoded);
  }
}
BENCHMARK(BM_EncodeResponse)->ArgName("binary")->Arg(1)->Arg(0);

}  // namespace
}  // namespace batchwise::kserve

BENCHMARK_MAIN();
