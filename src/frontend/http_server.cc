#include "frontend/http_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/thread_annotations.h"
#include "frontend/accept_backoff.h"
#include "frontend/http_status.h"
#include "frontend/listen_check.h"

namespace batchwise {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// --- Responder ---

struct Responder::State {
  std::shared_ptr<Sink> sink;
  std::atomic<bool> answered{false};
  ~State() {
    if (!answered.load()) {
      sink->Deliver([] {
        return HttpResponse{HttpStatusFor(TransportError::kHandlerDropped),
                            "application/json",
                            {},
                            ErrorBody("internal error: the request was dropped unanswered")};
      });
    }
  }
};

Responder::Responder(std::shared_ptr<Sink> sink) : state_(std::make_shared<State>()) {
  state_->sink = std::move(sink);
}

void Responder::operator()(HttpResponse response) const {
  Later([r = std::move(response)]() mutable { return std::move(r); });
}

void Responder::Later(std::function<HttpResponse()> make) const {
  if (state_->answered.exchange(true)) return;
  state_->sink->Deliver(std::move(make));
}

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

Status HttpServer::Options::Validate() const {
  if (port < 0 || port > 65535) return InvalidArgument("port must be in [0, 65535]");
  if (threads < 1) return InvalidArgument("threads must be >= 1");
  if (max_header_bytes < 1024) return InvalidArgument("max_header_bytes must be >= 1024");
  if (max_body_bytes < 1) return InvalidArgument("max_body_bytes must be >= 1");
  if (max_connections < 1) return InvalidArgument("max_connections must be >= 1");
  if (idle_timeout_ms <= 0 || io_timeout_ms <= 0 || shutdown_grace_ms < 0) {
    return InvalidArgument("timeouts must be > 0 (shutdown_grace_ms >= 0)");
  }
  return Status::Ok();
}

// --- Connections ---

class Session;

class HttpServer::Impl {
 public:
  Impl(const Options& options, HttpHandler handler, HttpEarlyHandler early)
      : options(options),
        handler(std::move(handler)),
        early(std::move(early)),
        ioc(options.threads),
        acceptor(asio::make_strand(ioc)),
        accept_timer(acceptor.get_executor()) {}

  Status Listen();
  void Accept();
  void OnAccepted(tcp::socket socket);
  void OnAcceptError(beast::error_code ec);
  bool AtCapacity() const;
  void Register(const std::shared_ptr<Session>& s);
  void Unregister(Session* s);
  void Shutdown();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  Clock& clock() const { return options.clock != nullptr ? *options.clock : SystemClock(); }

  const Options options;
  const HttpHandler handler;
  const HttpEarlyHandler early;
  // Before the io_context: destroying it destroys pending handlers, hence sessions, which
  // unregister here.
  mutable std::mutex mu;
  std::condition_variable drained;
  std::map<Session*, std::weak_ptr<Session>> sessions GUARDED_BY(mu);
  // Connections above max_connections being answered 503 (not in `sessions`); more than
  // kMaxRefusing at once are closed without an answer, so refusing stays cheap.
  static constexpr size_t kMaxRefusing = 64;
  std::atomic<size_t> refusing{0};

  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer accept_timer;  // the pause after a failed accept (on the acceptor's strand)
  AcceptBackoff accept_backoff;     // on the acceptor's strand
  int port = 0;                     // bound port, set by Listen()
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::jthread> threads;

 private:
  std::atomic<bool> stopping_{false};
  std::once_flag shutdown_once_;
};

// One connection: read a request, dispatch it, write its answer, repeat while kept alive.
// All its members are touched only on its strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {
    // Unparsed bytes are a header, a chunk-size line or a trailer being received (a body is
    // parsed as it comes): bounded, so no such element can take unbounded memory.
    buffer_.max_size(server_.options.max_header_bytes + kReadBytes);
    chunk_header_ = [this](uint64_t, beast::string_view extensions, beast::error_code& ec) {
      framing_bytes_ += extensions.size();
      if (header_bytes_ + framing_bytes_ > server_.options.max_header_bytes) {
        ec = http::error::header_limit;
      }
    };
  }
  ~Session() {
    if (refusal_) {
      server_.refusing.fetch_sub(1);
    } else {
      server_.Unregister(this);
    }
  }

  // Above max_connections: a 503 and close, no request read (the caller counted it in refusing).
  void Refuse() {
    refusal_ = true;
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->Reject(HttpStatusFor(StatusCode::kUnavailable),
                   "too many connections (the limit is " +
                       std::to_string(self->server_.options.max_connections) + "); retry later");
    });
  }

  void Start() {
    server_.Register(shared_from_this());
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Shutdown: close now if idle, else after the response in progress is written.
  void Stop() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->Close();
    });
  }

  // Any thread: the handler's answer, made and written on the strand.
  void Deliver(std::function<HttpResponse()> make) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), m = std::move(make)] {
      HttpResponse r;
      try {
        r = m();
      } catch (const std::exception& e) {
        r = {500, "application/json", {}, ErrorBody(std::string("internal error: ") + e.what())};
      }
      self->Write(std::move(r));
    });
  }

 private:
  struct SinkRef : Responder::Sink {
    explicit SinkRef(std::shared_ptr<Session> s) : session(std::move(s)) {}
    void Deliver(std::function<HttpResponse()> m) override { session->Deliver(std::move(m)); }
    std::shared_ptr<Session> session;
  };

  std::chrono::milliseconds Ms(int64_t ms) const { return std::chrono::milliseconds(ms); }

  void ReadHeader() {
    if (server_.stopping()) return Close();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_header_bytes));
    parser_->body_limit(server_.options.max_body_bytes);
    parser_->on_chunk_header(chunk_header_);
    framing_bytes_ = 0;
    stream_.expires_after(
        Ms(buffer_.size() ? server_.options.io_timeout_ms : server_.options.idle_timeout_ms));
    head_ = false;
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t n) { self->OnHeader(ec, n); });
  }

  void OnHeader(beast::error_code ec, size_t header_bytes) {
    if (ec) return OnReadError(ec);
    busy_ = true;
    header_bytes_ = header_bytes;
    received_ = server_.clock().Now();
    stream_.expires_after(Ms(server_.options.io_timeout_ms));
    const auto& req = parser_->get();
    head_ = req.method() == http::verb::head;
    header_fields_ = static_cast<size_t>(std::distance(req.begin(), req.end()));
    if (auto framing = FramingError(req)) return Reject(TransportError::kMalformed, *framing);
    auto expect = req.find(http::field::expect);
    if (expect != req.end() && beast::iequals(expect->value(), "100-continue")) {
      if (std::optional<HttpResponse> early = EarlyAnswer(req)) {
        busy_ = false;
        close_after_write_ = true;  // the body, if the client sends it anyway, is never read
        version_ = req.version();
        return Write(std::move(*early));
      }
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    // Beast reads at most the buffer's free capacity (never under 512 bytes), and a body is
    // parsed out of the buffer as it comes, so the buffer never grows by itself: without room
    // made here, a 600 KB body took 1 200 reads, each a strand hop and a timer reset.
    const uint64_t body = parser_->chunked() ? kReadBytes : parser_->content_length().value_or(0);
    const size_t room = std::min<size_t>(
        buffer_.max_size(), buffer_.size() + std::min<uint64_t>(body, kReadBytes));
    if (buffer_.capacity() < room) buffer_.reserve(room);
    http::async_read(
        stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->OnReadError(ec);
          if (self->TrailerTooLarge()) {
            return self->Reject(TransportError::kHeaderTooLarge, self->HeaderLimitMessage());
          }
          self->Dispatch();
        });
  }

  // Chunked trailer fields count against max_header_bytes with the header and chunk extensions
  // (Beast appends them to the header's fields; a field's bytes: name, ": ", value, CRLF).
  bool TrailerTooLarge() const {
    if (!parser_->chunked()) return false;
    const auto& req = parser_->get();
    size_t bytes = header_bytes_ + framing_bytes_;
    auto it = req.begin();
    std::advance(it, std::min(header_fields_, static_cast<size_t>(std::distance(it, req.end()))));
    for (; it != req.end(); ++it) bytes += it->name_string().size() + it->value().size() + 4;
    return bytes > server_.options.max_header_bytes;
  }

  std::string HeaderLimitMessage() const {
    return "request header (with chunk extensions and trailer) exceeds the limit of " +
           std::to_string(server_.options.max_header_bytes) + " bytes";
  }

  // RFC 9112 6.1 and 6.3: a body is framed by Content-Length or by a Transfer-Encoding whose
  // only coding is "chunked"; anything else could be read differently by a proxy in front
  // (request smuggling), so it is refused and the connection closed, its body never parsed.
  static std::optional<std::string> FramingError(const http::request_header<>& req) {
    std::vector<beast::string_view> codings;
    bool has_te = false;
    for (const auto& f : req) {
      if (f.name() != http::field::transfer_encoding) continue;
      has_te = true;
      for (auto coding : http::token_list(f.value())) codings.push_back(coding);
    }
    if (!has_te) return std::nullopt;
    if (req.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
    if (req.find(http::field::content_length) != req.end()) {
      return "both Content-Length and Transfer-Encoding";
    }
    if (codings.size() != 1 || !beast::iequals(codings.front(), "chunked")) {
      return "unsupported Transfer-Encoding '" + std::string(req[http::field::transfer_encoding]) +
             "' (only 'chunked' is accepted)";
    }
    return std::nullopt;
  }

  // An error answer before the request reached the handler; the connection closes after it.
  void Reject(TransportError why, const std::string& what) { Reject(HttpStatusFor(why), what); }
  void Reject(int status, const std::string& what) {
    busy_ = false;
    close_after_write_ = true;
    version_ = 11;
    Write({status, "application/json", {}, ErrorBody(what)});
  }

  void OnReadError(beast::error_code ec) {
    busy_ = false;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof || (ec == http::error::partial_message && buffer_.size() == 0)) {
      return Close();
    }
    TransportError why = TransportError::kMalformed;
    if (ec == http::error::body_limit) why = TransportError::kBodyTooLarge;
    // buffer_overflow: a chunk-size line or a trailer longer than the buffer allows.
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      why = TransportError::kHeaderTooLarge;
    }
    const std::string what = why == TransportError::kBodyTooLarge
                                 ? "request body exceeds the limit of " +
                                       std::to_string(server_.options.max_body_bytes) + " bytes"
                             : why == TransportError::kHeaderTooLarge
                                 ? HeaderLimitMessage()
                                 : "malformed HTTP request: " + ec.message();
    Reject(why, what);
  }

  // The server's early handler's answer to the request whose header `req` is, if it has one.
  std::optional<HttpResponse> EarlyAnswer(const http::request<http::string_body>& req) const {
    if (!server_.early) return std::nullopt;
    try {
      return server_.early(Head(req));
    } catch (const std::exception& e) {
      spdlog::error("http early handler threw: {}", e.what());
      return std::nullopt;
    }
  }

  // The request's header: everything but the body (empty).
  HttpRequest Head(const http::request<http::string_body>& req) const {
    HttpRequest out;
    out.method = std::string(req.method_string());
    const std::string_view target(req.target().data(), req.target().size());
    const size_t q = target.find('?');
    out.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
    out.version = static_cast<int>(req.version());
    out.headers.reserve(8);
    for (const auto& f : req) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      out.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    out.body = std::make_shared<std::string>();
    out.received = received_;
    return out;
  }

  HttpRequest Convert(http::request<http::string_body>&& req) const {
    HttpRequest out = Head(req);
    *out.body = std::move(req.body());
    return out;
  }

  void Dispatch() {
    http::request<http::string_body> req = parser_->release();
    parser_.reset();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    stream_.expires_never();
    Responder respond(std::make_shared<SinkRef>(shared_from_this()));
    try {
      server_.handler(Convert(std::move(req)), respond);
    } catch (const std::exception& e) {
      spdlog::error("http handler threw: {}", e.what());
      respond({500, "application/json", {}, ErrorBody(std::string("internal error: ") + e.what())});
    }
  }

  // The status line and header fields, then the body, in one gathered write. Built by hand
  // rather than with Beast's serializer: on small responses its per-field allocations and buffer
  // sequence iteration cost more CPU than the kernel's send. Field values are the handler's
  // (never the client's); CR and LF in them are dropped all the same, so no field can split the
  // response.
  void Write(HttpResponse r) {
    const auto status = static_cast<unsigned>(r.status);
    response_keep_alive_ = keep_alive_ && !close_after_write_ && !server_.stopping();
    // No body for 1xx, 204 and 304 (RFC 9110 6.4.1).
    const bool bodyless = status < 200 || status == 204 || status == 304;
    out_body_ = bodyless ? std::string() : std::move(r.body);
    // A response to HEAD has the GET's header fields (Content-Length included) and no body
    // (RFC 9110 9.3.2): body bytes would be read as the start of the next response.
    const size_t body_bytes = out_body_.size();
    if (head_) out_body_.clear();
    std::string& h = out_header_;
    h.clear();
    h += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    h += std::to_string(status);
    h += ' ';
    const auto reason = http::obsolete_reason(http::int_to_status(status));
    h.append(reason.data(), reason.size());
    h += "\r\nServer: batchwise\r\n";
    AppendField(h, "Content-Type", r.content_type);
    for (const auto& [k, v] : r.headers) AppendField(h, k, v);
    if (!bodyless) {
      h += "Content-Length: ";
      h += std::to_string(body_bytes);
      h += "\r\n";
    }
    // HTTP/1.1 persists unless it says close; HTTP/1.0 closes unless it says keep-alive.
    if (version_ == 10 && response_keep_alive_) h += "Connection: keep-alive\r\n";
    if (version_ != 10 && !response_keep_alive_) h += "Connection: close\r\n";
    h += "\r\n";
    stream_.expires_after(Ms(server_.options.io_timeout_ms));
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(out_header_),
                                                    asio::buffer(out_body_)};
    asio::async_write(stream_, buffers, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnWrite(ec);
    });
  }

  static void AppendField(std::string& h, std::string_view name, std::string_view value) {
    for (std::string_view part : {name, std::string_view(": "), value}) {
      for (char c : part) {
        if (c != '\r' && c != '\n') h += c;
      }
    }
    h += "\r\n";
  }

  void OnWrite(beast::error_code ec) {
    busy_ = false;
    if (ec) return Close();
    if (close_after_write_) return LingerClose();
    if (!response_keep_alive_) return Close();
    ReadHeader();
  }

  // After an error answer: stop sending, read (and drop) what the client still sends for a
  // moment, so closing does not reset the connection before the client reads the answer.
  void LingerClose() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    buffer_.consume(buffer_.size());
    Drain();
  }

  void Drain() {
    if (drained_ > 4 * 1024 * 1024) return Close();
    stream_.async_read_some(buffer_.prepare(kReadBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              self->buffer_.consume(self->buffer_.size());
                              if (ec) return self->Close();
                              self->Drain();
                            });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  static constexpr size_t kReadBytes = 64 * 1024;  // Beast's read size

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // Counts chunk extensions against the header limit; the parser holds a reference to it.
  std::function<void(uint64_t, beast::string_view, beast::error_code&)> chunk_header_;
  size_t header_bytes_ = 0;   // the request's header block
  TimePoint received_{};      // when it was read (HttpRequest::received)
  size_t header_fields_ = 0;  // its fields (those after it are trailer fields)
  size_t framing_bytes_ = 0;  // chunk extensions so far
  std::string out_header_;    // the response being written: header, then body
  std::string out_body_;
  bool response_keep_alive_ = false;
  bool busy_ = false;
  bool keep_alive_ = false;
  bool close_after_write_ = false;
  bool head_ = false;     // the request being answered is a HEAD
  bool refusal_ = false;  // answered 503 above max_connections; never registered
  unsigned version_ = 11;
  size_t drained_ = 0;
};

// --- Server ---

Status HttpServer::Impl::Listen() {
  beast::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) return InvalidArgument("bad listen address '" + options.host + "': " + ec.message());
  tcp::endpoint endpoint(address, static_cast<uint16_t>(options.port));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) port = acceptor.local_endpoint(ec).port();
  if (ec) return ListenError(options.host, options.port, options.port_flag, ec.message());
  return Status::Ok();
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor.is_open()) return;  // closed by Shutdown()
      return OnAcceptError(ec);
    }
    accept_backoff.OnSuccess();
    OnAccepted(std::move(socket));
    Accept();
  });
}

void HttpServer::Impl::OnAccepted(tcp::socket socket) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (!AtCapacity()) return std::make_shared<Session>(std::move(socket), *this)->Start();
  if (refusing.fetch_add(1) >= kMaxRefusing) {
    refusing.fetch_sub(1);
    return;  // the socket closes here: too many refusals in flight to answer this one
  }
  std::make_shared<Session>(std::move(socket), *this)->Refuse();
}

// The failed connection stays in the backlog: accepting again at once would spin (EMFILE).
void HttpServer::Impl::OnAcceptError(beast::error_code ec) {
  const AcceptBackoff::Step step = accept_backoff.OnError(SystemClock().Now());
  if (step.log) {
    spdlog::warn(
        "http accept: {}; pausing accepts {} ms ({} more failure(s) not logged)", ec.message(),
        std::chrono::duration_cast<std::chrono::milliseconds>(step.delay).count(), step.suppressed);
  }
  accept_timer.expires_after(step.delay);
  accept_timer.async_wait([this](beast::error_code ec) {
    if (ec || !acceptor.is_open()) return;  // cancelled or closed by Shutdown()
    Accept();
  });
}

bool HttpServer::Impl::AtCapacity() const {
  std::lock_guard<std::mutex> l(mu);
  return sessions.size() >= options.max_connections;
}

void HttpServer::Impl::Register(const std::shared_ptr<Session>& s) {
  std::lock_guard<std::mutex> l(mu);
  sessions[s.get()] = s;
}

void HttpServer::Impl::Unregister(Session* s) {
  std::lock_guard<std::mutex> l(mu);
  sessions.erase(s);
  if (sessions.empty()) drained.notify_all();
}

void HttpServer::Impl::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    stopping_.store(true, std::memory_order_release);
    asio::post(acceptor.get_executor(), [this] {
      beast::error_code ignored;
      acceptor.close(ignored);
      accept_timer.cancel();
    });
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard<std::mutex> l(mu);
      for (auto& [p, w] : sessions) {
        if (auto s = w.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) s->Stop();
    live.clear();
    {
      std::unique_lock<std::mutex> l(mu);
      if (!drained.wait_for(l, std::chrono::milliseconds(options.shutdown_grace_ms),
                            [this] { return sessions.empty(); })) {
        spdlog::warn("http: {} connection(s) still busy after the shutdown grace period",
                     sessions.size());
      }
    }
    work.reset();
    ioc.stop();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Create(const Options& options,
                                                       HttpHandler handler,
                                                       HttpEarlyHandler early) {
  BW_RETURN_IF_ERROR(options.Validate());
  if (!handler) return InvalidArgument("http server needs a handler");
  auto impl = std::make_unique<Impl>(options, std::move(handler), std::move(early));
  BW_RETURN_IF_ERROR(impl->Listen());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Start() {
  if (!impl_->threads.empty()) return;
  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->Accept();
  for (int i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
    pthread_setname_np(impl_->threads.back().native_handle(), "bw-http");
  }
}

void HttpServer::Shutdown() { impl_->Shutdown(); }

int HttpServer::port() const { return impl_->port; }

size_t HttpServer::connections() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->sessions.size();
}

}  // namespace batchwise
