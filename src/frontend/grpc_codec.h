// The KServe v2 gRPC encoding of inference requests and responses (proto/grpc_service.proto):
// inputs as raw_input_contents or as typed InferTensorContents, outputs always as
// raw_output_contents. The gRPC counterpart of kserve_codec.h, with the same rules: pure
// functions, untrusted input, every error an INVALID_ARGUMENT that says what was wrong; checks
// against the model's declared inputs are the scheduler's.
#pragma once

#include "common/status.h"
#include "grpc_service.pb.h"
#include "serving/inference.h"

namespace batchwise::kserve {

// Decodes `request` (its model name and version are the caller's to check). The raw input
// contents are moved out of `request`, not copied: the tensors own them afterwards, so they stay
// valid after the call ends (one shared holder for all inputs). Typed contents are copied into
// new tensors. Request parameters: "timeout" (microseconds, as over HTTP); the shared-memory
// and classification extensions are refused as over HTTP.
Result<InferRequest> DecodeGrpcInferRequest(inference::ModelInferRequest& request);

// Encodes `response` into `out`: model name, version "1", id, parameters "processor" and
// "simulated", each output's metadata and its bytes in raw_output_contents (one copy per
// output, into the message).
Status EncodeGrpcInferResponse(const InferResponse& response, inference::ModelInferResponse& out);

}  // namespace batchwise::kserve
