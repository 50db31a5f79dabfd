// The one place where Batchwise's StatusCodes and the transport's own failures become HTTP status
// codes (STYLE.md habit 4). Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/status.h"

namespace batchwise {

// Failures the HTTP transport detects before a request reaches a handler.
enum class TransportError {
  kMalformed,         // the request line, a header or the framing does not parse
  kHeaderTooLarge,    // the header block exceeds HttpServer::Options::max_header_bytes
  kBodyTooLarge,      // the body exceeds HttpServer::Options::max_body_bytes
  kHandlerDropped,    // a handler returned without ever answering (a bug; never a hang)
  kMethodNotAllowed,  // the path exists, not with this method
};

// google.rpc's mapping: INVALID_ARGUMENT and FAILED_PRECONDITION 400, UNAUTHENTICATED 401,
// NOT_FOUND 404, ALREADY_EXISTS 409, RESOURCE_EXHAUSTED 429, CANCELLED 499, UNIMPLEMENTED 501,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, INTERNAL 500; OK 200.
int HttpStatusFor(StatusCode code);
// The inverse, for clients reading a server's answer: each status HttpStatusFor produces maps back
// to its code (400 INVALID_ARGUMENT; 413 RESOURCE_EXHAUSTED; other 4xx INVALID_ARGUMENT; 5xx
// without a code of their own INTERNAL; 2xx OK).
StatusCode StatusCodeForHttpStatus(int http_status);
// kMalformed 400, kMethodNotAllowed 405, kHeaderTooLarge and kBodyTooLarge 413,
// kHandlerDropped 500.
int HttpStatusFor(TransportError error);

// The KServe error body: {"error": "<message>"} (invalid UTF-8 in the message is replaced, file-system
// paths cut by ClientMessage).
std::string ErrorBody(const std::string& message);

}  // namespace batchwise
