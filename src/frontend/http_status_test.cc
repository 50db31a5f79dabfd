#include "frontend/http_status.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(HttpStatusTest, MapsEveryStatusCodeOnce) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(TransportError::kBodyTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(TransportError::kHeaderTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(TransportError::kMethodNotAllowed), 405);
}

TEST(HttpStatusTest, ClientMappingInvertsTheServerMapping) {
  // FAILED_PRECONDITION shares 400 with INVALID_ARGUMENT; every other code comes back as itself.
  for (StatusCode code :
       {StatusCode::kOk, StatusCode::kInvalidArgument, StatusCode::kNotFound,
        StatusCode::kAlreadyExists, StatusCode::kResourceExhausted, StatusCode::kCancelled,
        StatusCode::kUnimplemented, StatusCode::kUnavailable, StatusCode::kDeadlineExceeded,
        StatusCode::kInternal, StatusCode::kUnauthenticated}) {
    EXPECT_EQ(StatusCodeForHttpStatus(HttpStatusFor(code)), code) << StatusCodeName(code);
  }
  EXPECT_EQ(StatusCodeForHttpStatus(413), StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusCodeForHttpStatus(405), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForHttpStatus(502), StatusCode::kInternal);
  EXPECT_EQ(StatusCodeForHttpStatus(204), StatusCode::kOk);
}

TEST(HttpStatusTest, ErrorBodyIsJsonEvenForInvalidUtf8) {
  EXPECT_EQ(ErrorBody("bad \"x\""), R"({"error":"bad \"x\""})");
  EXPECT_EQ(ErrorBody("\xff").substr(0, 10), R"({"error":")");
}

}  // namespace
}  // namespace batchwise
