// The ONNX engine: OpenCV DNN (cv::dnn::readNetFromONNX) on CPU, one instance per Engine.
#pragma once

#include <memory>

#include "backend/engine.h"

namespace batchwise {

Result<std::unique_ptr<Engine>> CreateOnnxEngine(const EngineOptions& options);

}  // namespace batchwise
