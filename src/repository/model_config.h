// ModelConfig: one model's configuration, read from <repository>/<model>/config.json or from
// Triton's <repository>/<model>/config.pbtxt (repository/triton_config.h).
//
// The format is documented in docs/model-repository.md. Plain value type; parsing is a pure
// function of the JSON and the folder it came from.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "backend/engine.h"
#include "common/status.h"

namespace batchwise {

struct ModelEngineFile {
  EngineKind engine = EngineKind::kOnnx;
  std::string path;  // absolute path of the model file for this engine
  // torchscript only, the entry's "optimize_for_inference" key: EngineOptions' field of that name.
  bool optimize_for_inference = true;
};

// The optional "preprocess" section of type "image": requests may send the image input as raw
// pixels or encoded files, and the server turns them into the model's FP32 [N,3,H,W] tensor on the
// CPU (serving/preprocess.h). Every field has the default given here; docs/model-repository.md
// documents the JSON.
struct ImagePreprocess {
  enum class Resize {
    kStretch,          // resize straight to [height, width] (aspect ratio not kept): "plain"
    kShorterSideCrop,  // scale the shorter side to `resize_shorter`, then center-crop
    kLetterbox         // scale keeping the aspect ratio to fit, centre, pad with `pad_value`
  };
  enum class Interpolation { kBilinear, kNearest, kArea };
  enum class ChannelOrder { kRgb, kBgr };

  // The model input it feeds; must be FP32 [-1,3,height,width]. Default: the model's only input.
  std::string input;
  // Forms accepted besides the model's own FP32 tensor: UINT8 [N,H,W,3] (RGB pixels, any H,W)
  // and/or BYTES [N] (encoded JPEG or PNG). Default: both.
  std::vector<DataType> accept = {DataType::kUint8, DataType::kBytes};
  // Output image size in pixels; always the input's spatial dims (the "resize" key, if given,
  // must equal them).
  int height = 0;
  int width = 0;
  Resize resize = Resize::kStretch;
  // Shorter side after scaling, pixels, for kShorterSideCrop; >= max(height, width).
  int resize_shorter = 0;
  // kLetterbox: the 8-bit value of the padding, every channel; 0 .. 255.
  int pad_value = 0;
  Interpolation interpolation = Interpolation::kBilinear;
  // Channel order the model expects along its dimension 1.
  ChannelOrder channel_order = ChannelOrder::kRgb;
  // value = (pixel * scale - mean[c]) / stddev[c], c in the model's channel order.
  float scale = 1.0f / 255.0f;
  std::array<float, 3> mean = {0, 0, 0};
  std::array<float, 3> stddev = {1, 1, 1};  // the JSON key "std"

  bool Accepts(DataType t) const;
};

// The optional "postprocess" section of type "classification": an extra BYTES output [N, top_k]
// of "score:index" strings (the `top_k` largest values of `source`, highest first), returned
// only when a request asks for it by name.
struct ClassificationPostprocess {
  // Name of the added output. Must not clash with a declared output.
  std::string output = "classification";
  // The declared FP32 [-1, classes] output it ranks. Default: the model's only output.
  std::string source;
  // Classes per sample, 1 .. classes.
  int top_k = 5;
};

// The optional "postprocess" section of type "detection", for fixed-capacity detectors
// (docs/detection.md): boxes [N,K,4] x1,y1,x2,y2 in the input's pixels, scores [N,K], labels
// [N,K] and num_detections [N]. Detections below `score_threshold` are dropped, at most
// `max_detections` kept per image (the outputs keep their K rows, zero-padded), and boxes of a
// pre-processed image are mapped back to the client's original image. With `class_names`, a BYTES
// [N,K] output `label_names` is returned when a request asks for it by name.
struct DetectionPostprocess {
  // The declared outputs it reads (FP32 [-1,K,4], FP32 [-1,K], INT32/INT64 [-1,K], INT32 [-1]).
  std::string boxes = "boxes";
  std::string scores = "scores";
  std::string labels = "labels";
  std::string num_detections = "num_detections";
  float score_threshold = 0;
  // 1 .. K; the JSON default is K (no limit).
  int max_detections = 0;
  // Name per label id (line i of the "class_names" file, relative to the model folder); empty:
  // no label_names output.
  std::vector<std::string> class_names;
  std::string label_names_output = "label_names";
};

struct ModelConfig {
  std::string name;
  std::string kind;  // informational ("image_classification", "pv_forecast")
  std::string folder;
  int max_batch_size = 1;
  // False for Triton's max_batch_size 0 (no batch dimension): the tensors' full shapes start with
  // 1, which serves as the batch dimension of a model that runs each request alone
  // (max_batch_size 1, batch size fixed at 1); reported as max_batch_size 0 with full dims.
  bool batch_dimension = true;
  std::vector<TensorSpec> inputs;   // shapes with -1 as the batch dimension
  std::vector<TensorSpec> outputs;
  // Engines the model has files for, in order of preference (torchscript, then onnx, unless the
  // config's optional "engine_preference" says otherwise).
  std::vector<ModelEngineFile> engines;
  // Processor kinds the model may be placed on ("cpu", "gpu", "npu"); empty: any.
  std::vector<std::string> processor_kinds;
  // Per-request latency target in milliseconds (0: none configured; serving uses its default).
  double latency_target_ms = 0;
  // Optional "batching" section, interpreted by serving/ (policy and its options).
  std::string batching_json;
  // Optional image pre-processing and classification post-processing ("inference script").
  std::optional<ImagePreprocess> preprocess;
  std::optional<ClassificationPostprocess> postprocess;
  std::optional<DetectionPostprocess> detection;  // "postprocess" of type "detection"
  // The version that serves (one instance per model) and the versions the config's
  // version_policy selects (a Triton folder's numeric sub-folders); 1 for config.json.
  int64_t version = 1;
  std::vector<int64_t> versions = {1};

  const ModelEngineFile* FindEngine(EngineKind kind) const;
  // Index of the declared input/output of that name; -1 if none.
  int InputIndex(const std::string& input_name) const;
  int OutputIndex(const std::string& output_name) const;
  // Checks a request's shape (with its batch dimension) against an input's declared shape.
  Status CheckShape(const TensorSpec& spec, const Shape& shape) const;
};

Result<ModelConfig> ParseModelConfig(const nlohmann::json& j, const std::string& folder);
// Reads and parses <folder>/config.json or <folder>/config.pbtxt (a folder with both is refused);
// errors name the file.
Result<ModelConfig> LoadModelConfig(const std::string& folder);

// `folder` holds a config.json or a config.pbtxt.
bool IsModelFolder(const std::string& folder);
// The model folders under `root` that hold a config.json or config.pbtxt, sorted by name.
Result<std::vector<std::string>> ListModelFolders(const std::string& root);

}  // namespace batchwise
