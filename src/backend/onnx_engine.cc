#include "backend/onnx_engine.h"

#include <cstring>
#include <filesystem>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include "backend/engine_util.h"
#include "backend/opencv_parallel.h"
#include "backend/pinned_worker.h"

namespace batchwise {
namespace {

// OpenCV's errors carry file/line noise in what(); msg is the reason alone.
template <typename F>
Status CatchCv(StatusCode code, const std::string& context, F&& fn) {
  try {
    return fn();
  } catch (const cv::Exception& e) {
    return Status(code, context + ": " + e.msg);
  } catch (const std::exception& e) {
    return Status(code, context + ": " + e.what());
  }
}

std::vector<int> IntDims(const Shape& shape) { return {shape.begin(), shape.end()}; }

// A cv::Mat header over the tensor's bytes: no copy (Net::setInput copies once into the net).
cv::Mat MatOver(const Tensor& t) {
  std::vector<int> dims = IntDims(t.shape());
  return cv::Mat(static_cast<int>(dims.size()), dims.data(), CV_32F,
                 const_cast<std::byte*>(t.data()));
}

Tensor TensorFromMat(const cv::Mat& m) {
  Shape shape(m.size.p, m.size.p + m.dims);
  cv::Mat c = m.isContinuous() ? m : m.clone();
  return Tensor::CopyOf(DataType::kFp32, shape,
                        {reinterpret_cast<const std::byte*>(c.data), c.total() * c.elemSize()});
}

// One OpenCV DNN network on a pinned worker with its own InstancePool. Thread-safe: Run() calls
// are serialised on the worker. Owns the worker, the pool and the network.
class OnnxEngine final : public Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(const EngineOptions& options);

  EngineKind kind() const override { return EngineKind::kOnnx; }
  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  Result<std::vector<Tensor>> Run(std::span<const Tensor> inputs) override;
  size_t memory_footprint_bytes() const override { return memory_bytes_; }
  std::string Describe() const override;

  ~OnnxEngine() override;

 private:
  Status LoadOnWorker();
  Status WarmUpOnWorker();
  Status ForwardOnWorker(std::span<const Tensor> inputs, std::vector<Tensor>* outputs);
  Status CheckOutputs(const std::vector<cv::Mat>& outs, int64_t batch);

  std::string path_;
  ResolvedTarget target_;
  std::vector<TensorSpec> inputs_;
  std::vector<TensorSpec> outputs_;
  std::vector<std::string> output_names_;
  size_t memory_bytes_ = 0;
  std::unique_ptr<PinnedWorker> worker_;
  std::unique_ptr<InstancePool> pool_;  // created and used on worker_
  cv::dnn::Net net_;                    // only touched on worker_
};

Result<std::unique_ptr<Engine>> OnnxEngine::Create(const EngineOptions& options) {
  BW_RETURN_IF_ERROR(CheckModelFile(options.model_path));
  if (options.inputs.empty()) return InvalidArgument("onnx engine: the model's inputs must be declared");
  BW_RETURN_IF_ERROR(CheckSpecs(options.inputs, "input"));
  BW_RETURN_IF_ERROR(CheckSpecs(options.outputs, "output"));
  for (const auto& s : options.inputs) {
    if (s.dtype != DataType::kFp32) return InvalidArgument("onnx engine: input '" + s.name + "' must be FP32");
  }
  if (options.target.device != ExecutionTarget::Device::kCpu) {
    return Unimplemented("onnx engine (OpenCV DNN) runs on CPU targets only");
  }
  BW_ASSIGN_OR_RETURN(ResolvedTarget target, ResolveCpuTarget(options.target));
  InstallOpenCvInstanceBackend();
  std::unique_ptr<OnnxEngine> e(new OnnxEngine());
  e->path_ = options.model_path;
  e->target_ = target;
  e->inputs_ = options.inputs;
  e->outputs_ = options.outputs;
  BW_ASSIGN_OR_RETURN(e->worker_, PinnedWorker::Create({target.cores, "bw-onnx"}));
  BW_RETURN_IF_ERROR(e->worker_->Call([&] { return e->LoadOnWorker(); }));
  BW_RETURN_IF_ERROR(e->worker_->Call([&] { return e->WarmUpOnWorker(); }));
  return std::unique_ptr<Engine>(std::move(e));
}

OnnxEngine::~OnnxEngine() {
  if (!worker_) return;
  // The net and the pool are released on the worker, where they were made.
  (void)worker_->Call([&] {
    net_ = cv::dnn::Net();
    InstancePool::BindToCurrentThread(nullptr);
    pool_.reset();
    return Status::Ok();
  });
}

Status OnnxEngine::LoadOnWorker() {
  BW_ASSIGN_OR_RETURN(pool_, InstancePool::Create(target_.cores, target_.num_threads));
  InstancePool::BindToCurrentThread(pool_.get());
  // The ONNX engine is OpenCV's DNN module, not ONNX Runtime: its errors say so, so that an
  // operator it lacks is not mistaken for a broken file.
  return CatchCv(StatusCode::kInvalidArgument,
                 "OpenCV DNN " CV_VERSION " cannot load ONNX model " + path_ +
                     " (supported opsets and operators: docs/model-repository.md)",
                 [&] {
    net_ = cv::dnn::readNetFromONNX(path_);
    if (net_.empty()) return InvalidArgument("cannot load ONNX model " + path_ + ": empty network");
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return Status::Ok();
  });
}

// One batch of zeros: allocates the network's blobs, checks the declared outputs against the
// network and measures the footprint.
Status OnnxEngine::WarmUpOnWorker() {
  std::vector<Tensor> zeros;
  for (const auto& s : inputs_) zeros.push_back(Tensor::Allocate(s.dtype, BatchShape(s, 1)));
  if (outputs_.empty()) {
    for (const auto& name : net_.getUnconnectedOutLayersNames()) outputs_.push_back({name, DataType::kFp32, {}});
  }
  for (const auto& s : outputs_) output_names_.push_back(s.name);
  std::vector<Tensor> outs;
  Status s = ForwardOnWorker(zeros, &outs);
  if (!s.ok()) {
    return InvalidArgument(s.message() + " (OpenCV DNN " CV_VERSION " cannot run model " + path_ +
                           ": it uses an operator or opset OpenCV DNN does not support (see "
                           "docs/model-repository.md), or its inputs do not match its config)");
  }
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (outputs_[i].shape.empty()) outputs_[i].shape = outs[i].shape(), outputs_[i].shape[0] = -1;
  }
  std::vector<cv::dnn::MatShape> shapes;
  for (const auto& z : zeros) shapes.push_back(IntDims(z.shape()));
  size_t weights = 0, blobs = 0;
  net_.getMemoryConsumption(shapes, weights, blobs);
  memory_bytes_ = weights + blobs;
  return Status::Ok();
}

Status OnnxEngine::ForwardOnWorker(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) {
  int64_t batch = inputs[0].shape()[0];
  std::vector<cv::Mat> outs;
  BW_RETURN_IF_ERROR(CatchCv(StatusCode::kInternal, "onnx forward (" + path_ + ")", [&] {
    for (size_t i = 0; i < inputs.size(); ++i) net_.setInput(MatOver(inputs[i]), inputs_[i].name);
    net_.forward(outs, output_names_);
    return Status::Ok();
  }));
  BW_RETURN_IF_ERROR(CheckOutputs(outs, batch));
  outputs->clear();
  for (const auto& m : outs) outputs->push_back(TensorFromMat(m));
  return Status::Ok();
}

Status OnnxEngine::CheckOutputs(const std::vector<cv::Mat>& outs, int64_t batch) {
  if (outs.size() != outputs_.size()) return Internal("onnx network returned the wrong output count");
  for (size_t i = 0; i < outs.size(); ++i) {
    Shape got(outs[i].size.p, outs[i].size.p + outs[i].dims);
    if (!outputs_[i].shape.empty() && got != BatchShape(outputs_[i], batch)) {
      return Internal("output '" + outputs_[i].name + "' has shape " + ShapeToString(got) +
                      ", declared " + ShapeToString(BatchShape(outputs_[i], batch)));
    }
  }
  return Status::Ok();
}

Result<std::vector<Tensor>> OnnxEngine::Run(std::span<const Tensor> inputs) {
  BW_RETURN_IF_ERROR(CheckBatch(inputs_, inputs).status());
  std::vector<Tensor> outputs;
  BW_RETURN_IF_ERROR(worker_->Call([&] { return ForwardOnWorker(inputs, &outputs); }));
  return outputs;
}

std::string OnnxEngine::Describe() const {
  return "onnx(opencv " CV_VERSION ") " + ShortPath(path_) +
         " on cores " + CoresToString(target_.cores) + " x" + std::to_string(target_.num_threads) +
         " thread(s)";
}

}  // namespace

Result<std::unique_ptr<Engine>> CreateOnnxEngine(const EngineOptions& options) {
  return OnnxEngine::Create(options);
}

}  // namespace batchwise
