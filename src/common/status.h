// Status and Result<T>: the error currency across module boundaries.
//
// A Status is a cheap value (code + message). Result<T> holds either a T or a non-OK Status.
// Both are plain values: not thread-safe to mutate concurrently, safe to copy between threads.
// HTTP/gRPC codes are mapped from StatusCode in one place (frontend/), nowhere else.
#pragma once

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace batchwise {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller sent something malformed (4xx)
  kNotFound,            // unknown model, version, input, file
  kAlreadyExists,
  kFailedPrecondition,  // the system is not in a state to do this (model not ready)
  kResourceExhausted,   // a size limit was exceeded (body too large, batch too large)
  kUnavailable,         // retryable: queue full, shutting down
  kDeadlineExceeded,    // the request waited past its timeout
  kCancelled,
  kUnimplemented,
  kInternal,            // an engine or invariant failure
  kUnauthenticated,     // the request lacks valid credentials (a bearer token)
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` ("context: message").
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);

// `message` as a client may see it: every absolute file-system path in it (a token that starts
// with '/' and has two or more components) cut to ".../" and its last component, so an answer
// never shows the server's folders (the log keeps the whole message). URL paths of the protocol
// ("/v2/...") are left as they are. Both protocols' error answers go through it.
std::string ClientMessage(std::string_view message);

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}

// Either a value or a non-OK Status. Constructing from an OK Status is a programming error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  // From anything convertible to T (a unique_ptr<Derived> for a Result<unique_ptr<Base>>).
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                                    !std::is_same_v<std::decay_t<U>, T> &&
                                                    !std::is_same_v<std::decay_t<U>, Status>>>
  Result(U&& value) : v_(T(std::forward<U>(value))) {}  // NOLINT
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace batchwise

#define BW_CONCAT_INNER(a, b) a##b
#define BW_CONCAT(a, b) BW_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define BW_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::batchwise::Status bw_status_ = (expr);     \
    if (!bw_status_.ok()) return bw_status_;     \
  } while (0)

// `BW_ASSIGN_OR_RETURN(auto x, MakeX());` declares x from a Result or returns its Status.
#define BW_ASSIGN_OR_RETURN(lhs, expr) BW_ASSIGN_OR_RETURN_IMPL(BW_CONCAT(bw_result_, __LINE__), lhs, expr)
#define BW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
