// The KServe v2 REST encoding of inference requests and responses, with the binary tensor data
// extension (https://github.com/kserve/kserve/blob/master/docs/predict-api/v2/required_api.md and
// Triton's binary_data.md): JSON tensors, binary tensors after a JSON header whose length is the
// Inference-Header-Content-Length header, BYTES elements with their 4-byte length prefix.
//
// Pure functions of their arguments, no I/O: safe from any thread. Decoding never trusts the
// input: every error is an INVALID_ARGUMENT that says what was wrong (never an exception, crash or
// unbounded allocation). Checks against the model's declared inputs are the scheduler's
// (PrepareRequest); this layer checks the protocol itself.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "service/shared_memory.h"
#include "serving/inference.h"

namespace batchwise::kserve {

// How the client asked for outputs to come back.
struct OutputEncoding {
  // Request "parameters": {"binary_data_output": true}: every output binary unless it says not.
  bool binary_default = false;
  // outputs[i].parameters.binary_data, by output name.
  std::map<std::string, bool> binary_by_output;
  // Outputs to write into shared memory (their JSON carries no data), by output name.
  SharedMemoryOutputs shared_memory;

  bool Binary(const std::string& output) const;
};

struct DecodedInferRequest {
  InferRequest request;  // model left empty: it comes from the URL
  OutputEncoding encoding;
};

// Parses the Inference-Header-Content-Length header's value (a decimal byte count).
Result<size_t> ParseJsonHeaderLength(std::string_view value);

// Decodes a request body. `json_size`: the Inference-Header-Content-Length (nullopt: the whole
// body is JSON; equal to the body size: also all JSON). Binary inputs view `body` without a copy
// when their offset is suitably aligned (the tensors keep `body` alive), else they are copied.
// Tensors with the shared-memory parameters are resolved in `shared_memory` (inputs viewed in
// place, outputs' windows in OutputEncoding::shared_memory); null: such tensors are refused.
Result<DecodedInferRequest> DecodeInferRequest(std::shared_ptr<const std::string> body,
                                               std::optional<size_t> json_size,
                                               const SharedMemoryRegistry* shared_memory = nullptr);

struct EncodedResponse {
  std::string body;
  // Set when some output is binary: the length of the JSON part (the response's
  // Inference-Header-Content-Length); the binary data follows it, in output order.
  std::optional<size_t> json_size;
};

// Encodes a response: "model_name", "model_version" (the version that served), "id", "parameters" (where it ran,
// whether simulated), "outputs" as JSON data or binary per `encoding`; the outputs in
// `encoding.shared_memory` are written there and answered with parameters
// "shared_memory_region" and "shared_memory_byte_size" (the bytes written) instead of data.
// INVALID_ARGUMENT for an output larger than its shared-memory window, or one that fails its own
// validation (which an engine never produces).
Result<EncodedResponse> EncodeInferResponse(const InferResponse& response,
                                            const OutputEncoding& encoding);

}  // namespace batchwise::kserve
