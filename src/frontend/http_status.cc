#include "frontend/http_status.h"

#include <nlohmann/json.hpp>

namespace batchwise {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kCancelled:
      return 499;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

StatusCode StatusCodeForHttpStatus(int http_status) {
  switch (http_status) {
    case 401:
      return StatusCode::kUnauthenticated;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kAlreadyExists;
    case 413:
    case 429:
      return StatusCode::kResourceExhausted;
    case 499:
      return StatusCode::kCancelled;
    case 501:
      return StatusCode::kUnimplemented;
    case 503:
      return StatusCode::kUnavailable;
    case 504:
      return StatusCode::kDeadlineExceeded;
  }
  if (http_status >= 200 && http_status < 300) return StatusCode::kOk;
  if (http_status >= 400 && http_status < 500) return StatusCode::kInvalidArgument;
  return StatusCode::kInternal;
}

int HttpStatusFor(TransportError error) {
  switch (error) {
    case TransportError::kMalformed:
      return 400;
    case TransportError::kHeaderTooLarge:
      return 413;
    case TransportError::kBodyTooLarge:
      return 413;
    case TransportError::kHandlerDropped:
      return 500;
    case TransportError::kMethodNotAllowed:
      return 405;
  }
  return 500;
}

std::string ErrorBody(const std::string& message) {
  return nlohmann::json{{"error", ClientMessage(message)}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
}

}  // namespace batchwise
