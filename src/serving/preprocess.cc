#include "serving/preprocess.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/bytes_tensor.h"

namespace batchwise {
namespace {

using Preprocess = ImagePreprocess;
using Order = ImagePreprocess::ChannelOrder;

uint32_t BigEndian(std::string_view s, size_t pos, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

// PNG: signature (8 bytes), IHDR chunk length (4) and type (4), then width and height (4 each).
Result<ImageSize> PngSize(std::string_view s) {
  if (s.size() < 24 || s.substr(12, 4) != "IHDR") {
    return InvalidArgument("PNG header is truncated or does not start with IHDR");
  }
  return ImageSize{BigEndian(s, 16, 4), BigEndian(s, 20, 4)};
}

bool IsStartOfFrame(uint8_t m) {
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

// JPEG: walks the marker segments up to the first start-of-frame, which holds the size
// (FF Cn, length (2), precision (1), height (2), width (2)).
Result<ImageSize> JpegSize(std::string_view s) {
  size_t pos = 2;
  while (pos + 4 <= s.size() && static_cast<uint8_t>(s[pos]) == 0xFF) {
    const uint8_t marker = static_cast<uint8_t>(s[pos + 1]);
    if (marker == 0xFF) {  // fill byte
      ++pos;
    } else if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // no length field
      pos += 2;
    } else if (IsStartOfFrame(marker)) {
      if (pos + 9 > s.size()) break;
      return ImageSize{BigEndian(s, pos + 7, 2), BigEndian(s, pos + 5, 2)};
    } else if (marker == 0xDA || marker == 0xD9) {  // image data or end before any frame
      break;
    } else {
      pos += 2 + BigEndian(s, pos + 2, 2);
    }
  }
  return InvalidArgument("JPEG has no readable frame header (truncated or corrupt)");
}

Status CheckImageSize(int64_t height, int64_t width) {
  if (height < 1 || width < 1) {
    return InvalidArgument("zero-size image (" + std::to_string(width) + "x" +
                           std::to_string(height) + ")");
  }
  // Each side first, so the product cannot overflow whatever a client claims.
  if (height > kMaxDecodedImagePixels || width > kMaxDecodedImagePixels ||
      height * width > kMaxDecodedImagePixels) {
    return InvalidArgument("image of " + std::to_string(width) + "x" + std::to_string(height) +
                           " pixels is above the limit of " +
                           std::to_string(kMaxDecodedImagePixels) + " pixels");
  }
  return Status::Ok();
}

// Decodes one JPEG or PNG into 8-bit BGR, OpenCV's order (grey and alpha images are converted).
Result<cv::Mat> Decode(std::string_view encoded) {
  BW_ASSIGN_OR_RETURN(ImageSize size, EncodedImageSize(encoded));
  BW_RETURN_IF_ERROR(CheckImageSize(size.height, size.width));
  cv::Mat image;
  try {
    const cv::Mat buffer(1, static_cast<int>(encoded.size()), CV_8U,
                         const_cast<char*>(encoded.data()));
    image = cv::imdecode(buffer, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return InvalidArgument(std::string("could not decode the image: ") + e.what());
  }
  if (image.empty()) return InvalidArgument("could not decode the image (corrupt or truncated)");
  return image;
}

int CvInterpolation(Preprocess::Interpolation i) {
  switch (i) {
    case Preprocess::Interpolation::kNearest:
      return cv::INTER_NEAREST;
    case Preprocess::Interpolation::kArea:
      return cv::INTER_AREA;
    case Preprocess::Interpolation::kBilinear:
      break;
  }
  return cv::INTER_LINEAR;
}

// Size after scaling the shorter side to p.resize_shorter, the longer one in proportion and
// truncated (torchvision's Resize(int)).
Result<cv::Size> ShorterSideSize(const Preprocess& p, const cv::Mat& image) {
  const int64_t s = p.resize_shorter;
  const int64_t rows = image.rows <= image.cols ? s : s * image.rows / image.cols;
  const int64_t cols = image.cols <= image.rows ? s : s * image.cols / image.rows;
  if (rows * cols > kMaxDecodedImagePixels) {
    return InvalidArgument("aspect ratio of a " + std::to_string(image.cols) + "x" +
                           std::to_string(image.rows) + " image is too extreme to scale");
  }
  return cv::Size(static_cast<int>(cols), static_cast<int>(rows));
}

// The largest size with the image's aspect ratio that fits the output (each side rounded, >= 1).
cv::Size LetterboxSize(const Preprocess& p, const cv::Mat& image) {
  const double s = std::min(static_cast<double>(p.width) / image.cols,
                            static_cast<double>(p.height) / image.rows);
  const int cols = std::clamp(static_cast<int>(std::lround(image.cols * s)), 1, p.width);
  const int rows = std::clamp(static_cast<int>(std::lround(image.rows * s)), 1, p.height);
  return cv::Size(cols, rows);
}

// Scales to `scaled`, then pads to the output size, centred (the odd pixel right and bottom).
cv::Mat Letterbox(const Preprocess& p, const cv::Mat& image, cv::Size scaled, int interpolation,
                  ImagePlacement& at) {
  cv::Mat resized, out;
  cv::resize(image, resized, scaled, 0, 0, interpolation);
  const int left = (p.width - scaled.width) / 2;
  const int top = (p.height - scaled.height) / 2;
  cv::copyMakeBorder(resized, out, top, p.height - scaled.height - top, left,
                     p.width - scaled.width - left, cv::BORDER_CONSTANT, cv::Scalar::all(p.pad_value));
  at.left = left;
  at.top = top;
  return out;
}

// Resizes (and, for kShorterSideCrop, center-crops; for kLetterbox, pads) an 8-bit 3-channel image
// to the output size; `at` says where the image went.
Result<cv::Mat> Fit(const Preprocess& p, const cv::Mat& image, ImagePlacement& at) {
  const int interpolation = CvInterpolation(p.interpolation);
  at = ImagePlacement{.width = image.cols, .height = image.rows};
  cv::Mat out;
  if (p.resize == Preprocess::Resize::kStretch) {
    cv::resize(image, out, cv::Size(p.width, p.height), 0, 0, interpolation);
    at.scale_x = static_cast<double>(p.width) / image.cols;
    at.scale_y = static_cast<double>(p.height) / image.rows;
    return out;
  }
  cv::Size scaled;
  if (p.resize == Preprocess::Resize::kLetterbox) {
    scaled = LetterboxSize(p, image);
  } else {
    BW_ASSIGN_OR_RETURN(scaled, ShorterSideSize(p, image));
  }
  at.scale_x = static_cast<double>(scaled.width) / image.cols;
  at.scale_y = static_cast<double>(scaled.height) / image.rows;
  if (p.resize == Preprocess::Resize::kLetterbox) {
    return Letterbox(p, image, scaled, interpolation, at);
  }
  cv::resize(image, out, scaled, 0, 0, interpolation);
  const int top = static_cast<int>(std::lround((scaled.height - p.height) / 2.0));
  const int left = static_cast<int>(std::lround((scaled.width - p.width) / 2.0));
  at.left = -left;
  at.top = -top;
  return out(cv::Rect(left, top, p.width, p.height));
}

// Writes an output-sized 8-bit HWC image whose channels are in `source` order into the CHW planes
// at `out`, in the model's channel order, as (pixel * scale - mean) / std.
void Normalise(const Preprocess& p, const cv::Mat& image, Order source, float* out) {
  const size_t plane = static_cast<size_t>(p.height) * p.width;
  for (int c = 0; c < 3; ++c) {
    const int from = source == p.channel_order ? c : 2 - c;
    const float a = p.scale / p.stddev[c];
    const float b = -p.mean[c] / p.stddev[c];
    float* dst = out + c * plane;
    for (int y = 0; y < p.height; ++y) {
      const uint8_t* row = image.ptr<uint8_t>(y);
      for (int x = 0; x < p.width; ++x) dst[y * p.width + x] = row[3 * x + from] * a + b;
    }
  }
}

Status WriteImage(const Preprocess& p, const cv::Mat& image, Order source, float* out,
                  ImagePlacement& at) {
  try {
    BW_ASSIGN_OR_RETURN(cv::Mat fitted, Fit(p, image, at));
    Normalise(p, fitted, source, out);
    return Status::Ok();
  } catch (const cv::Exception& e) {
    return Internal(std::string("resizing the image failed: ") + e.what());
  }
}

size_t FloatsPerImage(const Preprocess& p) { return 3 * static_cast<size_t>(p.height) * p.width; }

Status FromPixels(const Preprocess& p, const Tensor& t, float* out,
                  std::vector<ImagePlacement>& placements) {
  const Shape& s = t.shape();
  if (s.size() != 4) {
    return InvalidArgument("UINT8 images must be [N,H,W,3], got " + ShapeToString(s));
  }
  if (s[3] != 3) {
    return InvalidArgument("UINT8 images must have 3 channels (RGB), got " + std::to_string(s[3]) +
                           " in " + ShapeToString(s));
  }
  BW_RETURN_IF_ERROR(CheckImageSize(s[1], s[2]));
  const size_t image_bytes = static_cast<size_t>(s[1] * s[2] * 3);

  for (int64_t i = 0; i < s[0]; ++i) {
    const cv::Mat image(static_cast<int>(s[1]), static_cast<int>(s[2]), CV_8UC3,
                        const_cast<std::byte*>(t.data() + i * image_bytes));
    BW_RETURN_IF_ERROR(
        WriteImage(p, image, Order::kRgb, out + i * FloatsPerImage(p), placements[i]));
  }
  return Status::Ok();
}

Status FromEncoded(const Preprocess& p, const Tensor& t, float* out,
                   std::vector<ImagePlacement>& placements) {
  const Shape& s = t.shape();
  if (s.size() > 2 || (s.size() == 2 && s[1] != 1)) {
    return InvalidArgument("BYTES images must be [N] (or [N,1]) encoded files, got " +
                           ShapeToString(s));
  }
  BW_ASSIGN_OR_RETURN(std::vector<std::string_view> files, BytesElements(t));
  for (size_t i = 0; i < files.size(); ++i) {
    auto image = Decode(files[i]);
    Status st = image.ok() ? WriteImage(p, *image, Order::kBgr, out + i * FloatsPerImage(p),
                                        placements[i])
                           : image.status();
    if (!st.ok()) {
      return st.WithContext("image " + std::to_string(i) + " of " + std::to_string(files.size()));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ImageSize> EncodedImageSize(std::string_view encoded) {
  static constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);
  if (encoded.starts_with(kPngSignature)) return PngSize(encoded);
  if (encoded.starts_with("\xFF\xD8\xFF")) return JpegSize(encoded);
  return InvalidArgument("not a JPEG or PNG file (" + std::to_string(encoded.size()) + " bytes)");
}

bool IsRawImageInput(const ImagePreprocess& p, const Tensor& t) {
  return (t.dtype() == DataType::kUint8 || t.dtype() == DataType::kBytes) && p.Accepts(t.dtype());
}

double ImagePlacement::OriginalX(double x) const {
  return std::clamp((x - left) / scale_x, 0.0, static_cast<double>(width));
}

double ImagePlacement::OriginalY(double y) const {
  return std::clamp((y - top) / scale_y, 0.0, static_cast<double>(height));
}

Result<Tensor> PreprocessImages(const ImagePreprocess& p, const Tensor& images,
                                std::vector<ImagePlacement>* placements) {
  const std::string what = "input '" + p.input + "'";
  if (!IsRawImageInput(p, images)) {
    return InvalidArgument(what + ": datatype " + std::string(DataTypeName(images.dtype())) +
                           " is not an accepted image form");
  }
  Status valid = images.Validate();
  if (!valid.ok()) return valid.WithContext(what);
  const int64_t n = images.shape().empty() ? 0 : images.shape()[0];
  if (n < 1) return InvalidArgument(what + ": no images in the request");
  Tensor out = Tensor::Allocate(DataType::kFp32, {n, 3, p.height, p.width});
  float* dst = out.mutable_as<float>().data();
  std::vector<ImagePlacement> at(static_cast<size_t>(n));
  Status s = images.dtype() == DataType::kUint8 ? FromPixels(p, images, dst, at)
                                                : FromEncoded(p, images, dst, at);
  if (!s.ok()) return s.WithContext(what);
  if (placements != nullptr) *placements = std::move(at);
  return out;
}

}  // namespace batchwise
