#include "loadgen/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/thread_annotations.h"
#include "frontend/http_status.h"

namespace batchwise {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

// One request: what to write, whom to tell.
struct Call {
  http::request<http::span_body<const char>> request;
  std::shared_ptr<const std::string> body;  // what request's span points into
  HttpClient::Callback done;
  bool retried = false;
  bool expect_continue = false;  // the header asks for "100 Continue" before the body
};

Status TransportStatus(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return DeadlineExceeded("HTTP client: no answer in time");
  if (ec == asio::error::operation_aborted) return Cancelled("HTTP client: stopped");
  return Unavailable("HTTP client: " + ec.message());
}

// The peer closed a kept-alive connection before answering: worth one retry on a new one.
bool IsStaleConnection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

}  // namespace

class Connection;

class HttpClient::Impl {
 public:
  explicit Impl(const Options& o) : options(o), ioc(o.threads) {}

  void Start(int threads) {
    work.emplace(ioc.get_executor());
    for (int i = 0; i < threads; ++i) workers.emplace_back([this] { ioc.run(); });
  }
  void Stop();

  void Submit(std::shared_ptr<Call> call);
  // A connection finished a call and may serve the next one.
  void Release(const std::shared_ptr<Connection>& c);
  // A connection closed; it is no longer counted.
  void Closed(Connection* c);

  const Options options;
  asio::io_context ioc;
  tcp::resolver::results_type endpoints;
  std::atomic<size_t> opened{0};
  std::atomic<bool> stopped{false};  // set once, by Stop(), with mu_ held

 private:
  void RunOn(std::shared_ptr<Connection> c, std::shared_ptr<Call> call);
  std::shared_ptr<Connection> NewConnectionLocked() REQUIRES(mu_);

  std::mutex mu_;
  std::vector<std::shared_ptr<Connection>> idle_ GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Call>> waiting_ GUARDED_BY(mu_);
  // Every open connection (idle or busy), to cancel them on Stop().
  std::unordered_map<Connection*, std::weak_ptr<Connection>> open_ GUARDED_BY(mu_);
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::jthread> workers;
};

// One keep-alive connection running one call at a time. Its members are touched only on its
// strand (or before it starts).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(HttpClient::Impl& client)
      : client_(client), stream_(asio::make_strand(client.ioc)) {
    buffer_.reserve(64 * 1024);  // Beast reads only into free capacity, else 512 bytes at a time
  }

  void Run(std::shared_ptr<Call> call) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), call = std::move(call)] {
      self->call_ = call;
      if (self->connected_) {
        self->Write();
      } else {
        self->Connect();
      }
    });
  }

  void Cancel() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->stream_.cancel(); });
  }

 private:
  void Connect() {
    if (Stopped()) return;
    stream_.expires_after(std::chrono::milliseconds(client_.options.timeout_ms));
    stream_.async_connect(client_.endpoints,
                          [self = shared_from_this()](beast::error_code ec, const auto&) {
                            if (ec) return self->Fail(ec);
                            self->connected_ = true;
                            self->stream_.socket().set_option(tcp::no_delay(true));
                            self->Write();
                          });
  }

  // Stop() sets client_.stopped, then cancels on this strand: an operation started before the
  // cancel runs is aborted by it, one about to start after it sees the flag here.
  bool Stopped() {
    if (!client_.stopped.load(std::memory_order_acquire)) return false;
    Fail(asio::error::operation_aborted);
    return true;
  }

  void Write() {
    if (Stopped()) return;
    stream_.expires_after(std::chrono::milliseconds(client_.options.timeout_ms));
    if (call_->expect_continue) return WriteHeader();
    http::async_write(stream_, call_->request,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Fail(ec);
                        self->Read();
                      });
  }

  // Expect: 100-continue: the header, then the server's first answer. "100 Continue": the body
  // follows, then the response is read; anything else is the response (the body stays unsent).
  void WriteHeader() {
    serializer_.emplace(call_->request);
    http::async_write_header(
        stream_, *serializer_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->Fail(ec);
          self->parser_.emplace();
          self->parser_->body_limit(1ull << 30);
          http::async_read(self->stream_, self->buffer_, *self->parser_,
                           [self](beast::error_code ec, size_t) {
                             if (ec) return self->Fail(ec);
                             if (self->parser_->get().result() != http::status::continue_) {
                               return self->Done();
                             }
                             self->WriteBody();
                           });
        });
  }

  void WriteBody() {
    if (Stopped()) return;
    http::async_write(stream_, *serializer_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->serializer_.reset();
                        if (ec) return self->Fail(ec);
                        self->Read();
                      });
  }

  void Read() {
    if (Stopped()) return;
    parser_.emplace();
    parser_->body_limit(1ull << 30);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Fail(ec);
                       self->Done();
                     });
  }

  void Done() {
    // A serializer still held: a final answer came in place of "100 Continue" and the body was
    // never sent, so the connection cannot carry another request (the server closes it too).
    const bool body_unsent = serializer_.has_value();
    serializer_.reset();
    http::response<http::string_body> response = parser_->release();
    bool keep_alive = response.keep_alive() && !body_unsent;
    std::shared_ptr<Call> call = std::move(call_);
    used_ = true;
    if (keep_alive) {
      client_.Release(shared_from_this());  // may hand it the next call (posted to this strand)
    } else {
      Close();
    }
    call->done(Status::Ok(), HttpClientResponse{static_cast<int>(response.result_int()),
                                                std::move(response.body())});
  }

  void Fail(const beast::error_code& ec) {
    serializer_.reset();
    std::shared_ptr<Call> call = std::move(call_);
    bool retry = used_ && !call->retried && IsStaleConnection(ec);
    Close();
    if (retry) {
      call->retried = true;
      client_.Submit(std::move(call));
      return;
    }
    call->done(TransportStatus(ec), {});
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    client_.Closed(this);
  }

  HttpClient::Impl& client_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::optional<http::request_serializer<http::span_body<const char>>> serializer_;
  std::shared_ptr<Call> call_;
  bool connected_ = false;
  bool used_ = false;  // answered a call before: the server may have closed it since
};

std::shared_ptr<Connection> HttpClient::Impl::NewConnectionLocked() {
  auto c = std::make_shared<Connection>(*this);
  open_.emplace(c.get(), c);
  opened.fetch_add(1, std::memory_order_relaxed);
  return c;
}

void HttpClient::Impl::Submit(std::shared_ptr<Call> call) {
  std::shared_ptr<Connection> c;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!stopped.load()) {
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      } else if (open_.size() < options.max_connections) {
        c = NewConnectionLocked();
      } else {
        waiting_.push_back(std::move(call));
        return;
      }
    }
  }
  if (c == nullptr) return call->done(Cancelled("HTTP client: stopped"), {});
  c->Run(std::move(call));
}

void HttpClient::Impl::Release(const std::shared_ptr<Connection>& c) {
  std::shared_ptr<Call> next;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped.load()) return;
    if (waiting_.empty()) {
      idle_.push_back(c);
      return;
    }
    next = std::move(waiting_.front());
    waiting_.pop_front();
  }
  c->Run(std::move(next));
}

void HttpClient::Impl::Closed(Connection* c) {
  std::shared_ptr<Connection> fresh;
  std::shared_ptr<Call> next;
  {
    std::lock_guard<std::mutex> l(mu_);
    open_.erase(c);
    if (stopped.load() || waiting_.empty()) return;
    next = std::move(waiting_.front());
    waiting_.pop_front();
    fresh = NewConnectionLocked();
  }
  fresh->Run(std::move(next));
}

void HttpClient::Impl::Stop() {
  std::deque<std::shared_ptr<Call>> waiting;
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopped.store(true, std::memory_order_release);  // under mu_: Submit/Release/Closed see it
    waiting.swap(waiting_);
    for (auto& [ptr, weak] : open_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
    idle_.clear();
  }
  for (auto& call : waiting) call->done(Cancelled("HTTP client: stopped"), {});
  for (auto& c : open) c->Cancel();  // their calls complete with CANCELLED on the threads
  open.clear();
  work.reset();
  workers.clear();  // joins once every handler ran
}

Status HttpClient::Options::Validate() const {
  if (port <= 0 || port > 65535) return InvalidArgument("port must be in [1, 65535]");
  if (threads < 1) return InvalidArgument("threads must be >= 1");
  if (max_connections < 1) return InvalidArgument("max_connections must be >= 1");
  if (timeout_ms <= 0) return InvalidArgument("timeout_ms must be > 0");
  return Status::Ok();
}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(const Options& options) {
  BW_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>(options);
  beast::error_code ec;
  tcp::resolver resolver(impl->ioc);
  impl->endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
  if (ec) return Unavailable("cannot resolve " + options.host + ": " + ec.message());
  impl->Start(options.threads);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient::~HttpClient() { impl_->Stop(); }

void HttpClient::Send(std::string method, std::string target, Headers headers,
                      std::shared_ptr<const std::string> body, Callback done) {
  auto call = std::make_shared<Call>();
  call->body = body ? std::move(body) : std::make_shared<const std::string>();
  call->done = std::move(done);
  auto& r = call->request;
  r.method_string(method);
  r.target(target);
  r.version(11);
  r.set(http::field::host, impl_->options.host);
  for (auto& [name, value] : headers) r.set(name, value);
  r.body() = http::span_body<const char>::value_type(call->body->data(), call->body->size());
  r.prepare_payload();
  call->expect_continue = impl_->options.expect_continue && method == "POST" && !call->body->empty();
  if (call->expect_continue) r.set(http::field::expect, "100-continue");
  impl_->Submit(std::move(call));
}

Result<HttpClientResponse> HttpClient::Fetch(const std::string& method, const std::string& target,
                                             const std::string& body) {
  std::promise<Result<HttpClientResponse>> promise;
  auto answer = promise.get_future();
  Send(method, target, {{"Content-Type", "application/json"}},
       std::make_shared<const std::string>(body), [&promise](Status s, HttpClientResponse r) {
         if (!s.ok()) {
           promise.set_value(std::move(s));
         } else {
           promise.set_value(std::move(r));
         }
       });
  return answer.get();
}

size_t HttpClient::connections_opened() const {
  return impl_->opened.load(std::memory_order_relaxed);
}

Status StatusFromHttpResponse(const HttpClientResponse& response) {
  if (response.status >= 200 && response.status < 300) return Status::Ok();
  std::string message = response.body;
  auto j = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    message = j["error"].get<std::string>();
  }
  message = "HTTP " + std::to_string(response.status) + ": " + message;
  return Status(StatusCodeForHttpStatus(response.status), std::move(message));
}

}  // namespace batchwise
