// libFuzzer target for the KServe request decoder (and the encoder on what it decoded).
// Input layout: byte 0 bit 0 set: an Inference-Header-Content-Length follows in bytes 1-2
// (little-endian); the rest is the HTTP body. Built only with -DBATCHWISE_BUILD_FUZZ=ON and clang
// (scripts/fuzz.sh); findings and execs are recorded in docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "frontend/kserve_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  std::optional<size_t> json_size;
  if (data[0] & 1) json_size = static_cast<size_t>(data[1]) | static_cast<size_t>(data[2]) << 8;
  auto body =
      std::make_shared<const std::string>(reinterpret_cast<const char*>(data) + 3, size - 3);
  auto decoded = batchwise::kserve::DecodeInferRequest(body, json_size);
  if (!decoded.ok()) return 0;
  batchwise::InferResponse response;
  response.model = "fuzz";
  response.id = decoded->request.id;
  response.outputs = decoded->request.inputs;
  auto encoded = batchwise::kserve::EncodeInferResponse(response, decoded->encoding);
  if (!encoded.ok()) __builtin_trap();  // decoded tensors are valid: encoding them cannot fail
  return 0;
}
