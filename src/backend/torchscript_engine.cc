#include "backend/torchscript_engine.h"

#include <dlfcn.h>
#include <omp.h>

#include <mutex>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include "backend/engine_util.h"
#include "backend/pinned_worker.h"

namespace batchwise {
namespace {

#ifdef BATCHWISE_WITH_CUDA
constexpr bool kBuiltWithCuda = true;
#else
constexpr bool kBuiltWithCuda = false;
#endif

// The one place that knows about CUDA: the rest of the engine only moves tensors to `device`.
Result<torch::Device> ResolveTorchDevice(const ExecutionTarget& target) {
  switch (target.device) {
    case ExecutionTarget::Device::kCpu:
      return torch::Device(torch::kCPU);
    case ExecutionTarget::Device::kSimulated:
      return InvalidArgument("torchscript engine cannot run on a simulated device (use the "
                             "simulated engine)");
    case ExecutionTarget::Device::kCuda:
      break;
  }
  if (!kBuiltWithCuda) {
    return Unimplemented("CUDA target requested, but this build has no CUDA support (configure "
                         "with -DBATCHWISE_WITH_CUDA=ON against a CUDA-enabled libtorch)");
  }
  if (!torch::cuda::is_available()) {
    return Unimplemented("CUDA target requested, but libtorch sees no usable CUDA device");
  }
  if (target.gpu_index < 0 || target.gpu_index >= static_cast<int>(torch::cuda::device_count())) {
    return InvalidArgument("no CUDA device " + std::to_string(target.gpu_index));
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(target.gpu_index));
}

template <typename F>
Status CatchTorch(StatusCode code, const std::string& context, F&& fn) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return Status(code, context + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status(code, context + ": " + e.what());
  }
}

Result<at::ScalarType> ToTorchType(DataType t) {
  switch (t) {
    case DataType::kBool: return at::kBool;
    case DataType::kUint8: return at::kByte;
    case DataType::kInt8: return at::kChar;
    case DataType::kInt16: return at::kShort;
    case DataType::kInt32: return at::kInt;
    case DataType::kInt64: return at::kLong;
    case DataType::kFp16: return at::kHalf;
    case DataType::kFp32: return at::kFloat;
    case DataType::kFp64: return at::kDouble;
    default: return InvalidArgument("torchscript engine has no tensor type for " +
                                    std::string(DataTypeName(t)));
  }
}

Result<DataType> FromTorchType(at::ScalarType t) {
  for (DataType d : {DataType::kBool, DataType::kUint8, DataType::kInt8, DataType::kInt16,
                     DataType::kInt32, DataType::kInt64, DataType::kFp16, DataType::kFp32,
                     DataType::kFp64}) {
    if (ToTorchType(d).value() == t) return d;
  }
  return Internal(std::string("model output has unsupported type ") + c10::toString(t));
}

// Registers torchvision's operators (torchvision::nms, torchvision::roi_align, ...) that scripted
// detection models call, by loading the library CMake found (BATCHWISE_TORCHVISION_OPS) once per
// process. Returns why they are missing ("" when loaded), for the error of a model that needs them.
const std::string& LoadTorchvisionOps() {
  static std::once_flag once;
  static std::string missing;
  std::call_once(once, [] {
    const std::string path = BATCHWISE_TORCHVISION_OPS;
    if (path.empty()) {
      missing = "this build found no torchvision operator library (CMake BATCHWISE_TORCHVISION_OPS)";
    } else if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      const char* why = dlerror();
      missing = "cannot load torchvision's operators from " + path + ": " + (why ? why : "?");
    }
  });
  return missing;
}

// Adds why torchvision's operators are missing to a load error that names one.
Status WithTorchvisionHint(Status s) {
  if (s.ok() || s.message().find("torchvision::") == std::string::npos) return s;
  const std::string& missing = LoadTorchvisionOps();
  return missing.empty() ? s : Status(s.code(), s.message() + " (" + missing + ")");
}

// OpenMP's thread count is a per-thread setting (ICV) that new threads take from libtorch's
// global default on their first parallel call. Trigger that lazy initialisation first, then set
// this thread's own count: at::set_num_threads would also change the process-wide default.
void ConfigureIntraOpThreads(int num_threads) {
  (void)at::get_num_threads();
  omp_set_num_threads(num_threads);
}

Tensor BorrowTorchOutput(const at::Tensor& t, DataType dtype) {
  auto hold = std::make_shared<at::Tensor>(t);
  Shape shape(t.sizes().begin(), t.sizes().end());
  std::span<const std::byte> bytes(static_cast<const std::byte*>(t.data_ptr()), t.nbytes());
  return Tensor::Borrow(dtype, std::move(shape), bytes, std::move(hold));
}

// One TorchScript module on a pinned worker. Thread-safe: Run() calls are serialised on the
// worker. Owns the worker and the module.
class TorchScriptEngine final : public Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options);
  ~TorchScriptEngine() override;

  EngineKind kind() const override { return EngineKind::kTorchScript; }
  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  Result<std::vector<Tensor>> Run(std::span<const Tensor> inputs) override;
  size_t memory_footprint_bytes() const override { return memory_bytes_; }
  std::string Describe() const override;

 private:
  TorchScriptEngine(torch::Device device) : device_(device) {}
  Status LoadOnWorker();
  Status WarmUpOnWorker();
  Status ForwardOnWorker(std::span<const Tensor> inputs, std::vector<Tensor>* outputs);
  Result<std::vector<at::Tensor>> Forward(std::span<const Tensor> inputs);
  Status ConvertOutputs(const std::vector<at::Tensor>& outs, int64_t batch,
                        std::vector<Tensor>* outputs);

  std::string path_;
  ResolvedTarget target_;
  torch::Device device_;
  std::vector<TensorSpec> inputs_;
  std::vector<TensorSpec> outputs_;
  size_t memory_bytes_ = 0;
  bool optimize_for_inference_ = true;
  std::unique_ptr<PinnedWorker> worker_;
  torch::jit::Module module_;  // only touched on worker_
};

Result<std::unique_ptr<Engine>> TorchScriptEngine::Create(const EngineOptions& options) {
  BW_ASSIGN_OR_RETURN(torch::Device device, ResolveTorchDevice(options.target));
  BW_RETURN_IF_ERROR(CheckModelFile(options.model_path));
  if (options.inputs.empty()) {
    return InvalidArgument("torchscript engine: the model's inputs must be declared");
  }
  BW_RETURN_IF_ERROR(CheckSpecs(options.inputs, "input"));
  BW_RETURN_IF_ERROR(CheckSpecs(options.outputs, "output"));
  for (const auto& s : options.inputs) BW_RETURN_IF_ERROR(ToTorchType(s.dtype).status());
  BW_ASSIGN_OR_RETURN(ResolvedTarget target, ResolveCpuTarget(options.target));
  std::unique_ptr<TorchScriptEngine> e(new TorchScriptEngine(device));
  e->path_ = options.model_path;
  e->target_ = target;
  e->inputs_ = options.inputs;
  e->outputs_ = options.outputs;
  e->optimize_for_inference_ = options.optimize_for_inference;
  BW_ASSIGN_OR_RETURN(e->worker_, PinnedWorker::Create({target.cores, "bw-torch"}));
  BW_RETURN_IF_ERROR(e->worker_->Call([&] { return e->LoadOnWorker(); }));
  BW_RETURN_IF_ERROR(e->worker_->Call([&] { return e->WarmUpOnWorker(); }));
  return std::unique_ptr<Engine>(std::move(e));
}

TorchScriptEngine::~TorchScriptEngine() {
  if (!worker_) return;
  (void)worker_->Call([&] {
    module_ = torch::jit::Module();
    return Status::Ok();
  });
}

// Loads, measures the weights (parameters and buffers), then freezes and optimises the module for
// inference. optimize_for_inference matters here: it prepacks convolutions for oneDNN, whereas
// ATen's own heuristic sends single-threaded 1x1 convolutions at batch < 16 to its im2col path,
// which with Debian's reference BLAS is ~10x slower (ResNet-50, 1 thread, batch 1: 760 ms vs
// 78 ms; see docs/engines.md). Without optimize_for_inference_ the module is only frozen (with the
// frozen-graph folds). torchvision's operators are registered first, for detection models.
Status TorchScriptEngine::LoadOnWorker() {
  ConfigureIntraOpThreads(target_.num_threads);
  (void)LoadTorchvisionOps();
  return WithTorchvisionHint(
      CatchTorch(StatusCode::kInvalidArgument, "cannot load TorchScript model " + path_, [&] {
        module_ = torch::jit::load(path_, device_);
        module_.eval();
        memory_bytes_ = 0;
        for (const auto& p : module_.parameters()) memory_bytes_ += p.nbytes();
        for (const auto& b : module_.buffers()) memory_bytes_ += b.nbytes();
        module_ = optimize_for_inference_ ? torch::jit::optimize_for_inference(module_)
                                          : torch::jit::freeze(module_);
        return Status::Ok();
      }));
}

// Runs zeros of batch 1 twice (the profiling executor optimises the graph on the second run)
// and checks the outputs against the declared ones.
Status TorchScriptEngine::WarmUpOnWorker() {
  std::vector<Tensor> zeros;
  for (const auto& s : inputs_) zeros.push_back(Tensor::Allocate(s.dtype, BatchShape(s, 1)));
  std::vector<Tensor> outs;
  for (int i = 0; i < 2; ++i) {
    Status s = ForwardOnWorker(zeros, &outs);
    if (!s.ok()) return InvalidArgument(s.message() + " (model " + path_ + " does not match its config)");
  }
  return Status::Ok();
}

Result<std::vector<at::Tensor>> TorchScriptEngine::Forward(std::span<const Tensor> inputs) {
  std::vector<at::Tensor> outs;
  BW_RETURN_IF_ERROR(CatchTorch(StatusCode::kInternal, "torchscript forward (" + path_ + ")", [&] {
    torch::InferenceMode guard;
    std::vector<torch::jit::IValue> args;
    for (const Tensor& t : inputs) {
      at::Tensor x = torch::from_blob(const_cast<std::byte*>(t.data()), t.shape(),
                                      ToTorchType(t.dtype()).value());
      args.emplace_back(device_.is_cpu() ? x : x.to(device_));
    }
    torch::jit::IValue out = module_.forward(args);
    if (out.isTensor()) out = c10::ivalue::Tuple::create({out.toTensor()});
    if (!out.isTuple()) return Internal("model returned neither a tensor nor a tuple of tensors");
    for (const auto& v : out.toTupleRef().elements()) outs.push_back(v.toTensor().to(torch::kCPU).contiguous());
    return Status::Ok();
  }));
  return outs;
}

Status TorchScriptEngine::ForwardOnWorker(std::span<const Tensor> inputs,
                                          std::vector<Tensor>* outputs) {
  BW_ASSIGN_OR_RETURN(std::vector<at::Tensor> outs, Forward(inputs));
  return ConvertOutputs(outs, inputs[0].shape()[0], outputs);
}

// Outputs borrow libtorch's freshly allocated result tensors (kept alive by the Tensor): no copy.
Status TorchScriptEngine::ConvertOutputs(const std::vector<at::Tensor>& outs, int64_t batch,
                                         std::vector<Tensor>* outputs) {
  if (outputs_.empty()) {
    for (size_t i = 0; i < outs.size(); ++i) {
      Shape s(outs[i].sizes().begin(), outs[i].sizes().end());
      s[0] = -1;
      outputs_.push_back({"output" + std::to_string(i), DataType::kFp32, s});
    }
  }
  if (outs.size() != outputs_.size()) return Internal("model returned the wrong output count");
  outputs->clear();
  for (size_t i = 0; i < outs.size(); ++i) {
    BW_ASSIGN_OR_RETURN(DataType dtype, FromTorchType(outs[i].scalar_type()));
    Tensor t = BorrowTorchOutput(outs[i], dtype);
    if (dtype != outputs_[i].dtype || t.shape() != BatchShape(outputs_[i], batch)) {
      return Internal("output '" + outputs_[i].name + "' is " + std::string(DataTypeName(dtype)) +
                      " " + ShapeToString(t.shape()) + ", declared " +
                      std::string(DataTypeName(outputs_[i].dtype)) + " " +
                      ShapeToString(BatchShape(outputs_[i], batch)));
    }
    outputs->push_back(std::move(t));
  }
  return Status::Ok();
}

Result<std::vector<Tensor>> TorchScriptEngine::Run(std::span<const Tensor> inputs) {
  BW_RETURN_IF_ERROR(CheckBatch(inputs_, inputs).status());
  std::vector<Tensor> outputs;
  BW_RETURN_IF_ERROR(worker_->Call([&] { return ForwardOnWorker(inputs, &outputs); }));
  return outputs;
}

std::string TorchScriptEngine::Describe() const {
  std::string where = device_.is_cpu() ? "cores " + CoresToString(target_.cores) + " x" +
                                             std::to_string(target_.num_threads) + " thread(s)"
                                       : device_.str() + " (host cores " +
                                             CoresToString(target_.cores) + ")";
  return "torchscript(libtorch " + std::to_string(TORCH_VERSION_MAJOR) + "." +
         std::to_string(TORCH_VERSION_MINOR) + ") " + ShortPath(path_) + " on " + where;
}

}  // namespace

Result<std::unique_ptr<Engine>> CreateTorchScriptEngine(const EngineOptions& options) {
  return TorchScriptEngine::Create(options);
}

}  // namespace batchwise
