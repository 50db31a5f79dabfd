// Image pre-processing, the first half of a model's "inference script" (step S10,
// docs/design.md §1): turns the raw forms of an image input — UINT8 [N,H,W,3] RGB pixels of any
// size, or BYTES [N] encoded JPEG/PNG files — into the FP32 [N,3,height,width] tensor the model
// takes: decode, resize (and center-crop), reorder channels, scale and normalise, as the model's
// ImagePreprocess says.
//
// Pure functions, safe from any thread. The scheduler calls them on the thread that submits the
// request (serving/model_runtime.h says why). OpenCV's parallel_for_ inside resize runs serially
// on such a thread (backend/opencv_parallel.h), so no engine's pinned cores are borrowed.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "repository/model_config.h"

namespace batchwise {

// Largest encoded image accepted, in decoded pixels (width x height), checked from the file header
// before anything is decoded: a small file must not make the server allocate gigabytes.
inline constexpr int64_t kMaxDecodedImagePixels = int64_t{64} << 20;

// Where an original image lies in the model's input after resizing (and cropping or padding): the
// original pixel coordinate x is at left + x * scale_x in the input, y at top + y * scale_y.
struct ImagePlacement {
  int64_t width = 0;  // the original image, pixels
  int64_t height = 0;
  double scale_x = 1;
  double scale_y = 1;
  double left = 0;  // negative where a center crop cut the image
  double top = 0;

  // A point of the model's input back in the original image, clamped to it.
  double OriginalX(double x) const;
  double OriginalY(double y) const;
};

// True when `t` is a raw form `p` accepts (UINT8 or BYTES), i.e. it needs PreprocessImages().
bool IsRawImageInput(const ImagePreprocess& p, const Tensor& t);

// UINT8 [N,H,W,3] or BYTES [N] (also [N,1]) → FP32 [N,3,p.height,p.width]. INVALID_ARGUMENT says
// what was wrong and, for one bad image of a batch, which one: a datatype `p` does not accept, a
// wrong rank or channel count, an empty batch, a zero-size image, bytes that are not a decodable
// JPEG or PNG, an image above kMaxDecodedImagePixels.
// When `placements` is not null it gets one ImagePlacement per image.
Result<Tensor> PreprocessImages(const ImagePreprocess& p, const Tensor& images,
                                std::vector<ImagePlacement>* placements = nullptr);

// Width and height from a PNG or JPEG header, without decoding; INVALID_ARGUMENT when `encoded`
// is neither or its header is cut short.
struct ImageSize {
  int64_t width = 0;
  int64_t height = 0;
};
Result<ImageSize> EncodedImageSize(std::string_view encoded);

}  // namespace batchwise
