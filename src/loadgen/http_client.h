// HttpClient: the load generator's HTTP/1.1 client on Boost.Beast/Asio. A pool of keep-alive
// connections to one server; requests are asynchronous and complete on the client's own Asio
// threads, so one sender can keep thousands in flight without a thread each.
//
// A request takes an idle connection, or opens a new one while fewer than max_connections are
// open, or else waits (FIFO) for the next connection to come free. TCP_NODELAY is set on every
// connection. A request that fails on a reused connection before any response byte arrived
// (the server closed an idle keep-alive) is retried once on a fresh connection. With
// Options::expect_continue, a request with a body writes its header, waits for the interim
// "100 Continue", then writes its body; any other answer is the response, and the body is never
// sent.
//
// Thread-safety: every method may be called from any thread. Callbacks run on the client's
// threads and must not block for long. The destructor stops the threads; requests still in
// flight then complete with CANCELLED.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace batchwise {

struct HttpClientResponse {
  int status = 0;  // HTTP status code
  std::string body;
};

class HttpClient {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 8000;
    // Asio threads that connect, write, read and run the callbacks.
    int threads = 1;
    // Connections open at most; more requests than this in flight wait for a free one.
    size_t max_connections = 1024;
    // A request not answered this long after it was written fails with DEADLINE_EXCEEDED, ms.
    int64_t timeout_ms = 60'000;
    // POST requests with a body send "Expect: 100-continue" and their body only after the
    // server's "100 Continue" (what curl does for large bodies): a server that refuses from the
    // header answers before the upload, and the body is not sent.
    bool expect_continue = false;

    Status Validate() const;
  };

  // `transport` is OK when a response arrived (whatever its HTTP status), else why none did.
  using Callback = std::function<void(Status transport, HttpClientResponse response)>;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Resolves the host once and starts the threads; connects lazily.
  static Result<std::unique_ptr<HttpClient>> Create(const Options& options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method target` with `body` (shared, not copied: requests may reuse one body).
  void Send(std::string method, std::string target, Headers headers,
            std::shared_ptr<const std::string> body, Callback done);
  // Blocking convenience for metadata and polling; never call it from a callback.
  Result<HttpClientResponse> Fetch(const std::string& method, const std::string& target,
                                   const std::string& body = "");

  // Connections opened so far (a keep-alive pool opens few).
  size_t connections_opened() const;

  class Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What a KServe server's HTTP answer means as a Status: 2xx OK, else the code HttpStatusFor maps
// to that HTTP status, with the body's "error" text (or the body itself) as the message.
Status StatusFromHttpResponse(const HttpClientResponse& response);

}  // namespace batchwise
