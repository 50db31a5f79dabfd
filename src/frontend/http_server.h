// HttpServer: HTTP/1.1 transport on Boost.Beast with a small pool of Asio threads. Knows nothing
// of KServe: it parses requests (within size limits), hands each to a handler with a Responder,
// and writes whatever the handler answers, whenever and from whichever thread it answers.
//
// Connections are kept alive for HTTP/1.1, and for HTTP/1.0 with "Connection: keep-alive";
// TCP_NODELAY is set and each response (headers and body) goes out in one gather write.
// "Expect: 100-continue" is answered before the body is read: "100 Continue", or a final answer
// from the HttpEarlyHandler (an overloaded model refuses without the client's upload). One request per connection at a
// time (no pipelining): the next one is read after the response is written.
//
// Thread-safety: Create/Start/Shutdown belong to the owner's thread; handlers run on the Asio
// threads (one at a time per connection) and may answer later from any thread. The server owns
// its threads (std::jthread); Shutdown() (also run by the destructor) stops accepting, closes idle
// connections, waits for every request already read to be answered and written, then joins.
// Network timeouts use Asio's steady timers (transport only; no timing logic depends on them).
//
// Framing (RFC 9112 6.1, 6.3): a body is framed by Content-Length or by "Transfer-Encoding:
// chunked" alone; any other Transfer-Encoding, both fields, or Transfer-Encoding in HTTP/1.0 is a
// 400 and the connection closes, its body never read as a request. Chunk extensions and trailer
// fields count against max_header_bytes with the header. A response to HEAD carries no body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace batchwise {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target without its query
  std::string query;   // after '?', may be empty
  int version = 11;    // 10 or 11
  // Header fields as received, names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<std::string> body;  // never null
  // When its header had been read, on Options::clock: the body's transfer time counts in the
  // request's latency (a 600 KB tensor among 200 uploads takes a while).
  TimePoint received{};

  // The first field of that (lower-case) name, or null.
  const std::string* Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields
  std::string body;
};

// Answers one request. Copyable; the first call wins and later ones are ignored; may be called
// from any thread. If every copy is destroyed unanswered, the client gets a 500 (never a hang).
class Responder {
 public:
  // Where answers go: the connection, which runs `make` on its own strand and writes the result.
  struct Sink {
    virtual ~Sink() = default;
    virtual void Deliver(std::function<HttpResponse()> make) = 0;
  };
  explicit Responder(std::shared_ptr<Sink> sink);
  void operator()(HttpResponse response) const;
  // Answers with what `make` returns, run on the connection's strand (not on the caller's thread:
  // a batching thread hands over encoding this way).
  void Later(std::function<HttpResponse()> make) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using HttpHandler = std::function<void(HttpRequest request, Responder respond)>;

// Answers a request from its header alone, before its body is read: called only for a client
// that waits for "100 Continue" (Expect: 100-continue), with the request's header (its body
// empty). A response returned is sent instead of the 100, the body is never read, and the
// connection closes after it (RFC 9110 10.1.1); nullopt: 100 Continue, and the request is read and
// handled as usual. Runs on an Asio thread; must not block.
using HttpEarlyHandler = std::function<std::optional<HttpResponse>(const HttpRequest& head)>;

class HttpServer {
 public:
  struct Options {
    // Address to listen on; "0.0.0.0" for every interface.
    std::string host = "127.0.0.1";
    // TCP port; 0 picks a free one (port() tells which).
    int port = 8000;
    // The flag that set `port`, named when it cannot be taken.
    std::string port_flag = "--http-port";
    // Asio threads that parse, dispatch and write.
    int threads = 2;
    // Largest request header block, bytes; larger: 413 and the connection is closed.
    size_t max_header_bytes = 16 * 1024;
    // Largest request body, bytes; larger: 413 and the connection is closed.
    size_t max_body_bytes = 64 * 1024 * 1024;
    // A kept-alive connection with no new request this long is closed, milliseconds.
    int64_t idle_timeout_ms = 60'000;
    // Time to receive a whole request once its first byte came, and to write a response, ms.
    int64_t io_timeout_ms = 30'000;
    // Connections served at once; above it a new connection is answered 503 with
    // "Connection: close" and closed (without reading a request). Keep it under the process's
    // descriptor limit (ulimit -n).
    size_t max_connections = 512;
    // Shutdown() waits at most this long for requests in flight to be answered, milliseconds.
    int64_t shutdown_grace_ms = 30'000;
    // Stamps HttpRequest::received; null: SystemClock(). Not owned; outlives the server.
    Clock* clock = nullptr;

    Status Validate() const;
  };

  // Validates the options, binds and listens (errors: the address, the port in use). `early`
  // may be empty (every client that waits for it gets "100 Continue").
  static Result<std::unique_ptr<HttpServer>> Create(const Options& options, HttpHandler handler,
                                                    HttpEarlyHandler early = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts accepting on the Asio threads.
  void Start();
  // Graceful stop (see the class comment); idempotent.
  void Shutdown();

  int port() const;
  // Connections open now.
  size_t connections() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace batchwise
