// libFuzzer target for the KServe v2 gRPC request decoder (and the encoder on what it decoded).
// The input is a serialized inference.ModelInferRequest, as it arrives on the wire; one that does
// not parse is what gRPC itself refuses before our code runs. Built only with
// -DBATCHWISE_BUILD_FUZZ=ON and clang (scripts/fuzz.sh grpc); runs are recorded in
// docs/fuzzing.md.
#include <cstddef>
#include <cstdint>

#include <google/protobuf/stubs/logging.h>

#include "common/client_tensor.h"
#include "frontend/grpc_codec.h"

// Protobuf logs every invalid UTF-8 string it parses: silence it, or the log is the run.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inference::ModelInferRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto decoded = batchwise::kserve::DecodeGrpcInferRequest(request);
  if (!decoded.ok()) return 0;
  batchwise::InferResponse response;
  response.model = "fuzz";
  response.id = decoded->id;
  for (const auto& in : decoded->inputs) {
    // Every decoded input passed the one client validation: within the limits, its bytes its own.
    if (!batchwise::CheckClientTensor(in.tensor, in.name).ok()) __builtin_trap();
    response.outputs.push_back(in);
  }
  inference::ModelInferResponse out;
  if (!batchwise::kserve::EncodeGrpcInferResponse(response, out).ok()) __builtin_trap();
  return 0;
}
