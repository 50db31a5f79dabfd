// Engine: one loaded model instance on one processor, behind one interface for every runtime.
//
// Implementations: ONNX through OpenCV DNN, TorchScript through libtorch (CPU; CUDA when built
// with BATCHWISE_WITH_CUDA), and a simulated processor driven by a load-performance table.
// An Engine guarantees its own placement: every thread that computes for it runs pinned to
// `ExecutionTarget::cpu_cores`, and it uses exactly `num_threads` compute threads, whatever thread
// calls Run(). Run() is not reentrant: one batch at a time per Engine (an instance runs batches
// serially; more throughput means more instances). Exceptions from engines never cross this
// boundary: they become a Status.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/tensor.h"

namespace batchwise {

enum class EngineKind { kOnnx, kTorchScript, kSimulated };

// "onnx", "torchscript", "simulated".
std::string_view EngineKindName(EngineKind kind);
Result<EngineKind> ParseEngineKind(std::string_view name);

// A model input or output. Shape includes the batch dimension first, as -1.
struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kFp32;
  Shape shape;
};

// Where an instance computes.
struct ExecutionTarget {
  enum class Device { kCpu, kCuda, kSimulated };
  Device device = Device::kCpu;
  // Logical CPU ids the compute threads are pinned to. Empty: every CPU the process may use.
  std::vector<int> cpu_cores;
  // Intra-op compute threads. 0: one per core in cpu_cores.
  int num_threads = 0;
  // CUDA device ordinal when device == kCuda.
  int gpu_index = 0;
};

struct EngineOptions {
  // Model file: .onnx for kOnnx, TorchScript .pt for kTorchScript. For kSimulated, the
  // load-performance table (JSON, see docs/load-performance-table.md) that gives its latency.
  std::string model_path;
  ExecutionTarget target;
  // Inputs/outputs the model declares (from its repository config). Required for kSimulated,
  // which has no model file to read them from; real engines check them against the model.
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Clock the simulated engine waits on (not owned, must outlive the engine). Null: SystemClock().
  Clock* clock = nullptr;
  // kSimulated: the table row (concurrent instances on the processor) that gives the latency.
  int simulated_instances = 1;
  // kSimulated: footprint to report when the table has no memory figure for that row.
  size_t simulated_memory_bytes = 0;
  // kTorchScript: true runs libtorch's optimize_for_inference (freeze, fold, convert convolutions
  // to oneDNN); false only freezes and runs the frozen-graph folds, for models the oneDNN
  // conversion miscomputes (libtorch 1.13 on SSDlite's MobileNetV3; docs/detection.md).
  bool optimize_for_inference = true;
};

class Engine {
 public:
  virtual ~Engine() = default;

  virtual EngineKind kind() const = 0;
  virtual const std::vector<TensorSpec>& inputs() const = 0;
  virtual const std::vector<TensorSpec>& outputs() const = 0;

  // Runs one batch: one tensor per declared input, in declared order, all with the same first
  // dimension (the batch size). Returns one tensor per declared output, in declared order.
  virtual Result<std::vector<Tensor>> Run(std::span<const Tensor> inputs) = 0;

  // Bytes this instance holds (weights, workspace), measured after load and warm-up.
  virtual size_t memory_footprint_bytes() const = 0;

  // True for the simulated processor: anything printed from its results must say "simulated".
  virtual bool simulated() const { return false; }

  // One-line human description: engine, model file, target ("onnx(opencv) resnet18.onnx on
  // cores {0} x1 thread"). Simulated engines say so here.
  virtual std::string Describe() const = 0;
};

// Loads a model. Errors name the file and the reason (NOT_FOUND, INVALID_ARGUMENT for a file the
// engine cannot parse, UNIMPLEMENTED for a device this build lacks).
Result<std::unique_ptr<Engine>> CreateEngine(EngineKind kind, const EngineOptions& options);

}  // namespace batchwise
