#include "serving/preprocess.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>

#include "common/bytes_tensor.h"

namespace batchwise {
namespace {

using Order = ImagePreprocess::ChannelOrder;

// Output 224x224, stretched, scale 1/255 and the ImageNet mean/std.
ImagePreprocess ImageNet() {
  ImagePreprocess p;
  p.input = "input";
  p.height = 224;
  p.width = 224;
  p.mean = {0.485f, 0.456f, 0.406f};
  p.stddev = {0.229f, 0.224f, 0.225f};
  return p;
}

// Output 224x224, raw pixel values (scale 1, mean 0, std 1).
ImagePreprocess Identity() {
  ImagePreprocess p = ImageNet();
  p.scale = 1;
  p.mean = {0, 0, 0};
  p.stddev = {1, 1, 1};
  return p;
}

// UINT8 [n,h,w,3] RGB with pixel(n, y, x) = f(n, y, x).
template <typename F>
Tensor Pixels(int n, int h, int w, F f) {
  Tensor t = Tensor::Allocate(DataType::kUint8, {n, h, w, 3});
  auto v = t.mutable_as<uint8_t>();
  for (int i = 0; i < n; ++i) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const std::array<uint8_t, 3> rgb = f(i, y, x);
        std::copy(rgb.begin(), rgb.end(), v.begin() + ((i * h + y) * w + x) * 3);
      }
    }
  }
  return t;
}

// Element [n][c][y][x] of an FP32 [N,3,224,224] tensor.
float At(const Tensor& t, int n, int c, int y, int x) {
  return t.as<float>()[((static_cast<size_t>(n) * 3 + c) * 224 + y) * 224 + x];
}

// The image of UINT8 [1,h,w,3] `rgb` as a PNG or JPEG file (`ext`).
std::string Encode(const Tensor& rgb, const std::string& ext) {
  const Shape& s = rgb.shape();
  cv::Mat m(static_cast<int>(s[1]), static_cast<int>(s[2]), CV_8UC3,
            const_cast<std::byte*>(rgb.data()));
  cv::Mat bgr;
  cv::cvtColor(m, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> out;
  EXPECT_TRUE(cv::imencode(ext, bgr, out));
  return std::string(out.begin(), out.end());
}

Tensor RandomImage(int h, int w, uint32_t seed) {
  std::mt19937 gen(seed);
  return Pixels(1, h, w, [&](int, int, int) {
    return std::array<uint8_t, 3>{uint8_t(gen()), uint8_t(gen()), uint8_t(gen())};
  });
}

void ExpectInvalid(const Result<Tensor>& r, const std::string& says) {
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status();
  EXPECT_NE(r.status().message().find(says), std::string::npos) << r.status();
}

// A 448x448 image halved by bilinear interpolation: each output pixel is the mean of a 2x2 block.
// R = 2x mod 256 and G = 2y mod 256 give blocks (4j, 4j+2) whose mean 4j+1 is exact in 8 bits.
TEST(PreprocessTest, BilinearResizeAndNormaliseMatchAHandComputedPattern) {
  const Tensor images = Pixels(2, 448, 448, [](int n, int y, int x) {
    return std::array<uint8_t, 3>{uint8_t(2 * x), uint8_t(2 * y), uint8_t(n == 0 ? 7 : 200)};
  });
  auto out = PreprocessImages(ImageNet(), images);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->dtype(), DataType::kFp32);
  EXPECT_EQ(out->shape(), (Shape{2, 3, 224, 224}));
  auto norm = [](float v, float mean, float std) { return (v / 255.0f - mean) / std; };
  const std::pair<int, int> points[] = {{0, 0}, {5, 17}, {63, 40}, {30, 63}};
  for (auto [y, x] : points) {
    EXPECT_NEAR(At(*out, 0, 0, y, x), norm(4 * x + 1, 0.485f, 0.229f), 1e-5) << y << "," << x;
    EXPECT_NEAR(At(*out, 0, 1, y, x), norm(4 * y + 1, 0.456f, 0.224f), 1e-5) << y << "," << x;
    EXPECT_NEAR(At(*out, 0, 2, y, x), norm(7, 0.406f, 0.225f), 1e-5);
    EXPECT_NEAR(At(*out, 1, 2, y, x), norm(200, 0.406f, 0.225f), 1e-5);
  }
}

TEST(PreprocessTest, BgrModelsGetBlueFirst) {
  ImagePreprocess p = Identity();
  p.channel_order = Order::kBgr;
  auto out = PreprocessImages(p, Pixels(1, 10, 20, [](int, int, int) {
                                return std::array<uint8_t, 3>{10, 20, 30};
                              }));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FLOAT_EQ(At(*out, 0, 0, 100, 100), 30);
  EXPECT_FLOAT_EQ(At(*out, 0, 1, 100, 100), 20);
  EXPECT_FLOAT_EQ(At(*out, 0, 2, 100, 100), 10);
}

// 448 rows x 896 columns, shorter side to 224: scaled to 224x448 (2x2 blocks of equal pixels, so
// exact), then the center crop starts at column 112. R = (x/2) mod 256 marks the column.
TEST(PreprocessTest, ShorterSideResizeThenCenterCrop) {
  ImagePreprocess p = Identity();
  p.resize = ImagePreprocess::Resize::kShorterSideCrop;
  p.resize_shorter = 224;
  auto out = PreprocessImages(p, Pixels(1, 448, 896, [](int, int y, int x) {
                                return std::array<uint8_t, 3>{uint8_t(x / 2), uint8_t(y / 2), 0};
                              }));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FLOAT_EQ(At(*out, 0, 0, 0, 0), 112);
  EXPECT_FLOAT_EQ(At(*out, 0, 0, 10, 100), 212);
  EXPECT_FLOAT_EQ(At(*out, 0, 0, 223, 150), (150 + 112) % 256);
  EXPECT_FLOAT_EQ(At(*out, 0, 1, 223, 150), 223);
}

class EncodedImageTest : public ::testing::TestWithParam<ImagePreprocess::Resize> {};

// PNG is lossless: decoding it must give exactly what the raw pixels give.
TEST_P(EncodedImageTest, PngDecodesToTheSameTensorAsRawPixels) {
  ImagePreprocess p = ImageNet();
  p.resize = GetParam();
  p.resize_shorter = 256;
  const Tensor a = RandomImage(237, 301, 1), b = RandomImage(300, 180, 2);
  auto raw_a = PreprocessImages(p, a), raw_b = PreprocessImages(p, b);
  auto decoded = PreprocessImages(p, MakeBytesTensor({2}, {Encode(a, ".png"), Encode(b, ".png")}));
  ASSERT_TRUE(raw_a.ok() && raw_b.ok() && decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->shape(), (Shape{2, 3, 224, 224}));
  const auto d = decoded->as<float>();
  const size_t per_image = 3 * 224 * 224;
  EXPECT_TRUE(std::equal(d.begin(), d.begin() + per_image, raw_a->as<float>().begin()));
  EXPECT_TRUE(std::equal(d.begin() + per_image, d.end(), raw_b->as<float>().begin()));
}

INSTANTIATE_TEST_SUITE_P(Resize, EncodedImageTest,
                         ::testing::Values(ImagePreprocess::Resize::kStretch,
                                           ImagePreprocess::Resize::kShorterSideCrop),
                         [](const auto& info) {
                           return info.param == ImagePreprocess::Resize::kStretch
                                      ? "Stretch"
                                      : "ShorterSideCrop";
                         });

TEST(PreprocessTest, JpegDecodesCloseToItsPixels) {
  const Tensor flat = Pixels(1, 64, 48, [](int, int, int) {
    return std::array<uint8_t, 3>{200, 100, 50};
  });
  auto out = PreprocessImages(Identity(), MakeBytesTensor({1, 1}, {Encode(flat, ".jpg")}));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NEAR(At(*out, 0, 0, 112, 112), 200, 3);
  EXPECT_NEAR(At(*out, 0, 1, 112, 112), 100, 3);
  EXPECT_NEAR(At(*out, 0, 2, 112, 112), 50, 3);
}

TEST(PreprocessTest, ReadsTheSizeFromPngAndJpegHeaders) {
  const Tensor img = RandomImage(31, 77, 3);
  for (const char* ext : {".png", ".jpg"}) {
    auto size = EncodedImageSize(Encode(img, ext));
    ASSERT_TRUE(size.ok()) << ext << ": " << size.status();
    EXPECT_EQ(size->width, 77) << ext;
    EXPECT_EQ(size->height, 31) << ext;
  }
  EXPECT_FALSE(EncodedImageSize("\xFF\xD8\xFF\xE0").ok());  // JPEG cut inside its first segment
}

TEST(PreprocessTest, RejectsWhatIsNotAnImageAndSaysWhy) {
  const ImagePreprocess p = ImageNet();
  ExpectInvalid(PreprocessImages(p, MakeBytesTensor({1}, {"hello, world"})),
                "input 'input': image 0 of 1: not a JPEG or PNG file");
  const std::string png = Encode(RandomImage(40, 40, 4), ".png");
  ExpectInvalid(PreprocessImages(p, MakeBytesTensor({2}, {png, png.substr(0, png.size() / 2)})),
                "image 1 of 2: could not decode");
  ExpectInvalid(PreprocessImages(p, MakeBytesTensor({1}, {png.substr(0, 20)})), "PNG header");
  std::string huge = png.substr(0, 16) + std::string("\x00\x01\x86\xA0\x00\x01\x86\xA0", 8);
  ExpectInvalid(PreprocessImages(p, MakeBytesTensor({1}, {huge})),
                "100000x100000 pixels is above the limit");
  ExpectInvalid(PreprocessImages(p, MakeBytesTensor({2, 2}, {png, png, png, png})),
                "must be [N] (or [N,1])");
  Tensor cut = MakeBytesTensor({1}, {png});
  ExpectInvalid(
      PreprocessImages(p, Tensor::Borrow(DataType::kBytes, {1}, cut.bytes().subspan(0, 10))),
      "runs past the end");
}

TEST(PreprocessTest, RejectsBadPixelTensorsAndSaysWhy) {
  const ImagePreprocess p = ImageNet();
  ExpectInvalid(PreprocessImages(p, Tensor::Allocate(DataType::kUint8, {1, 8, 8, 4})),
                "must have 3 channels (RGB), got 4");
  ExpectInvalid(PreprocessImages(p, Tensor::Allocate(DataType::kUint8, {1, 8, 8})),
                "must be [N,H,W,3]");
  ExpectInvalid(PreprocessImages(p, Tensor::Allocate(DataType::kUint8, {1, 0, 8, 3})),
                "zero-size image");
  ExpectInvalid(PreprocessImages(p, Tensor::Allocate(DataType::kUint8, {0, 8, 8, 3})), "no images");
  ExpectInvalid(PreprocessImages(p, Tensor::Borrow(DataType::kUint8, {1, 8, 8, 3}, {})),
                "UINT8 tensor of shape");
  ImagePreprocess only_pixels = p;
  only_pixels.accept = {DataType::kUint8};
  ExpectInvalid(PreprocessImages(only_pixels, MakeBytesTensor({1}, {"x"})),
                "BYTES is not an accepted image form");
  EXPECT_FALSE(IsRawImageInput(p, Tensor::Allocate(DataType::kFp32, {1, 3, 224, 224})));
  EXPECT_TRUE(IsRawImageInput(p, Tensor::Allocate(DataType::kUint8, {1, 8, 8, 3})));
}

// The hostile-input probe's request: a shape whose element count wraps int64 to exactly the size
// of its 1.3 MB buffer. It used to pass validation and build a 53505x53523 image over the buffer
// (SIGSEGV); now the count does not wrap and the tensor is refused.
TEST(PreprocessTest, RejectsAShapeWhoseElementCountWrapsToTheBufferSize) {
  const Shape wrapping = {1, 4011275626538389761, 53523, 3};
  std::vector<std::byte> buffer(1309753);
  const Tensor t = Tensor::Borrow(DataType::kUint8, wrapping, buffer);
  EXPECT_EQ(ElementCount(wrapping), -1);
  EXPECT_FALSE(t.Validate().ok());
  auto r = PreprocessImages(ImageNet(), t);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status();
}

// A 200x100 (w x h) grey image with a white rectangle at x 50..89, y 20..39, letterboxed into
// 320x320: scale 1.6, the image fills rows 80..239, the rest is padding. A box drawn around the
// rectangle in the model's pixels maps back onto the rectangle exactly.
TEST(PreprocessTest, LetterboxKeepsTheAspectPadsAndMapsBoxesBack) {
  ImagePreprocess p = Identity();
  p.height = p.width = 320;
  p.resize = ImagePreprocess::Resize::kLetterbox;
  p.pad_value = 7;
  p.interpolation = ImagePreprocess::Interpolation::kNearest;
  Tensor image = Pixels(1, 100, 200, [](int, int y, int x) {
    const uint8_t v = (x >= 50 && x < 90 && y >= 20 && y < 40) ? 255 : 100;
    return std::array<uint8_t, 3>{v, v, v};
  });
  std::vector<ImagePlacement> at;
  auto out = PreprocessImages(p, image, &at);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(at.size(), 1u);
  EXPECT_EQ(at[0].width, 200);
  EXPECT_EQ(at[0].height, 100);
  EXPECT_DOUBLE_EQ(at[0].scale_x, 1.6);
  EXPECT_DOUBLE_EQ(at[0].scale_y, 1.6);
  EXPECT_EQ(at[0].left, 0);
  EXPECT_EQ(at[0].top, 80);
  auto px = [&](int y, int x) { return out->as<float>()[y * 320 + x]; };  // channel 0
  EXPECT_EQ(px(0, 0), 7);      // padding above
  EXPECT_EQ(px(79, 160), 7);
  EXPECT_EQ(px(80, 0), 100);   // the image's first row
  EXPECT_EQ(px(239, 319), 100);
  EXPECT_EQ(px(240, 0), 7);    // padding below
  // The rectangle: x 50*1.6 = 80 .. 90*1.6 = 144, y 80 + 20*1.6 = 112 .. 80 + 40*1.6 = 144.
  EXPECT_EQ(px(112, 80), 255);
  EXPECT_EQ(px(143, 143), 255);
  EXPECT_EQ(px(111, 80), 100);
  EXPECT_EQ(px(144, 143), 100);
  EXPECT_DOUBLE_EQ(at[0].OriginalX(80), 50);
  EXPECT_DOUBLE_EQ(at[0].OriginalY(112), 20);
  EXPECT_DOUBLE_EQ(at[0].OriginalX(144), 90);
  EXPECT_DOUBLE_EQ(at[0].OriginalY(144), 40);
  EXPECT_DOUBLE_EQ(at[0].OriginalY(10), 0);     // in the padding: clamped to the image
  EXPECT_DOUBLE_EQ(at[0].OriginalY(300), 100);
}

TEST(PreprocessTest, PlainResizeAndCenterCropReportWhereTheImageWent) {
  ImagePreprocess p = Identity();
  std::vector<ImagePlacement> at;
  ASSERT_TRUE(PreprocessImages(p, Pixels(1, 112, 448, [](int, int, int) {
                                 return std::array<uint8_t, 3>{1, 2, 3};
                               }), &at).ok());
  EXPECT_DOUBLE_EQ(at[0].scale_x, 0.5);  // stretched: each axis on its own
  EXPECT_DOUBLE_EQ(at[0].scale_y, 2.0);
  EXPECT_DOUBLE_EQ(at[0].OriginalX(224), 448);
  EXPECT_DOUBLE_EQ(at[0].OriginalY(112), 56);
  p.resize = ImagePreprocess::Resize::kShorterSideCrop;
  p.resize_shorter = 256;
  ASSERT_TRUE(PreprocessImages(p, Pixels(1, 100, 200, [](int, int, int) {
                                 return std::array<uint8_t, 3>{1, 2, 3};
                               }), &at).ok());
  // 200x100 -> 512x256, crop offset (144, 16): model x 0 is original x 144 / 2.56 = 56.25.
  EXPECT_DOUBLE_EQ(at[0].scale_x, 2.56);
  EXPECT_EQ(at[0].left, -144);
  EXPECT_EQ(at[0].top, -16);
  EXPECT_DOUBLE_EQ(at[0].OriginalX(0), 56.25);
}

}  // namespace
}  // namespace batchwise
