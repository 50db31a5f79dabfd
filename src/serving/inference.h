// Request and response types of the inference scheduler: named tensors in, named tensors out.
//
// Plain values: safe to move between threads. The frontend (a later issue) decodes the KServe v2
// protocol into an InferRequest and encodes an InferResponse.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/tensor.h"

namespace batchwise {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

struct InferRequest {
  std::string model;
  std::string id;  // echoed in the response; may be empty
  // One tensor per declared model input, in any order; the first dimension is the batch.
  std::vector<NamedTensor> inputs;
  // Outputs to return, by name; empty: every declared output.
  std::vector<std::string> requested_outputs;
  // How long the request may wait in the queue before it runs; zero: the scheduler's default.
  Duration timeout{0};
  // When the request began to arrive (HTTP: its header was read), on the scheduler's clock; zero:
  // when the scheduler takes it. Admission by time and the controller count latency from here.
  TimePoint received{};
};

struct InferResponse {
  std::string model;
  std::string id;
  int64_t model_version = 1;  // the version that served (ModelConfig::version)
  std::vector<NamedTensor> outputs;
  std::string processor;  // where it ran ("sim:a100"); say "simulated" when `simulated`
  bool simulated = false;
};

// Called exactly once per accepted request, on a batching thread: keep it short and never call
// back into Scheduler::LoadModel/UnloadModel from it.
using InferCallback = std::function<void(Status, InferResponse)>;

}  // namespace batchwise
