// The one place where Batchwise's StatusCodes become gRPC status codes and back (STYLE.md
// habit 4; http_status.h is its HTTP counterpart). Pure functions; thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace batchwise {

// Code for code: INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
// RESOURCE_EXHAUSTED, UNAVAILABLE (a full queue, shutting down: retryable, HTTP's 503),
// DEADLINE_EXCEEDED, CANCELLED, UNIMPLEMENTED, INTERNAL, UNAUTHENTICATED; OK.
grpc::StatusCode GrpcCodeFor(StatusCode code);
// The inverse, for clients: every code GrpcCodeFor produces maps back; the codes it never
// produces (UNKNOWN, ABORTED, OUT_OF_RANGE, DATA_LOSS, PERMISSION_DENIED) to INTERNAL, except
// PERMISSION_DENIED to UNAUTHENTICATED and OUT_OF_RANGE to INVALID_ARGUMENT.
StatusCode StatusCodeForGrpcCode(grpc::StatusCode code);

// The message is ClientMessage(s.message()): no file-system paths reach a client.
grpc::Status ToGrpcStatus(const Status& s);
Status FromGrpcStatus(const grpc::Status& s);

}  // namespace batchwise
