#include "common/status.h"

namespace batchwise {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kCancelled: return "CANCELLED";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(StatusCodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

std::ostream& operator<<(std::ostream& os, const Status& s) { return os << s.ToString(); }

namespace {

// Characters that end a path token: white space, quotes, brackets and separators.
bool EndsPath(char c) {
  return std::string_view(" \t\r\n'\"`()[]{}<>,;:=|").find(c) != std::string_view::npos;
}

}  // namespace

std::string ClientMessage(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  size_t i = 0;
  while (i < message.size()) {
    const bool starts = message[i] == '/' && (i == 0 || EndsPath(message[i - 1]));
    if (!starts) {
      out += message[i++];
      continue;
    }
    size_t end = i;
    while (end < message.size() && !EndsPath(message[end])) ++end;
    std::string_view token = message.substr(i, end - i);
    std::string_view trimmed = token.substr(0, token.find_last_not_of('/') + 1);
    const size_t last = trimmed.rfind('/');
    if (token.starts_with("/v2/") || last == 0 || last == std::string_view::npos) {
      out += token;  // a URL path of the protocol, or a single component ("/", "/tmp")
    } else {
      out += ".../";
      out += trimmed.substr(last + 1);
    }
    i = end;
  }
  return out;
}

}  // namespace batchwise
