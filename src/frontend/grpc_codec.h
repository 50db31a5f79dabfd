// The KServe v2 gRPC encoding of inference requests and responses (proto/grpc_service.proto):
// inputs as raw_input_contents or as typed InferTensorContents, outputs always as
// raw_output_contents. The gRPC counterpart of kserve_codec.h, with the same rules: pure
// functions, untrusted input, every error an INVALID_ARGUMENT that says what was wrong; checks
// against the model's declared inputs are the scheduler's.
#pragma once

#include "common/status.h"
#include "grpc_service.pb.h"
#include "service/shared_memory.h"
#include "serving/inference.h"

namespace batchwise::kserve {

// Decodes `request` (its model name and version are the caller's to check). The raw input
// contents are moved out of `request`, not copied: the tensors own them afterwards, so they stay
// valid after the call ends (one shared holder for all inputs). Typed contents are copied into
// new tensors. Request parameters: "timeout" (microseconds, as over HTTP); the classification
// extension is refused as over HTTP. Tensors with the shared-memory parameters are resolved in
// `shared_memory` as over HTTP (inputs viewed in place; the outputs' windows go to
// `shared_memory_outputs`); with either null, such tensors are refused.
Result<InferRequest> DecodeGrpcInferRequest(inference::ModelInferRequest& request,
                                            const SharedMemoryRegistry* shared_memory = nullptr,
                                            SharedMemoryOutputs* shared_memory_outputs = nullptr);

// Encodes `response` into `out`: model name, version "1", id, parameters "processor" and
// "simulated", each output's metadata and its bytes in raw_output_contents (one copy per
// output, into the message). The outputs in `shared_memory` are written there instead, with an
// empty raw_output_contents entry (entries stay one per output, as Triton's) and parameters
// "shared_memory_region" and "shared_memory_byte_size" (the bytes written).
Status EncodeGrpcInferResponse(const InferResponse& response, inference::ModelInferResponse& out,
                               const SharedMemoryOutputs* shared_memory = nullptr);

}  // namespace batchwise::kserve
