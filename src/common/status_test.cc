#include "common/status.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  BW_ASSIGN_OR_RETURN(int h, Half(x));
  BW_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  BW_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, DefaultIsOkAndToStringNamesTheCode) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status().ToString(), "OK");
  EXPECT_EQ(Unavailable("queue full").ToString(), "UNAVAILABLE: queue full");
  EXPECT_EQ(NotFound("m").WithContext("load").message(), "load: m");
}

TEST(StatusTest, MacrosPropagateTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "3 is odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

TEST(ClientMessageTest, CutsFileSystemPathsToTheirLastComponent) {
  EXPECT_EQ(ClientMessage("cannot read /srv/models/resnet18/config.json: No such file"),
            "cannot read .../config.json: No such file");
  EXPECT_EQ(ClientMessage("folder '/home/ops/models/x/' is empty"), "folder '.../x' is empty");
  EXPECT_EQ(ClientMessage("/opt/a/b.onnx"), ".../b.onnx");
  EXPECT_EQ(ClientMessage("(/usr/src/opencv/modules/dnn/onnx_importer.cpp:1021)"),
            "(.../onnx_importer.cpp:1021)");
}

TEST(ClientMessageTest, LeavesProtocolPathsRatiosAndPlainTextAlone) {
  for (const char* m : {"no route for /v2/models/x/infer", "unknown model 'a/b'", "10/20 done",
                        "root / and /tmp", "", "x"}) {
    EXPECT_EQ(ClientMessage(m), m);
  }
}

}  // namespace
}  // namespace batchwise
