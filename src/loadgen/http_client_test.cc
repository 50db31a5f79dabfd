// The load generator's HTTP client against the project's own HTTP server (a trivial handler).
#include "loadgen/http_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "frontend/http_server.h"

namespace batchwise {
namespace {

class HttpClientTest : public ::testing::Test {
 protected:
  // Echoes the body with the status the path asks for ("/status/503").
  void StartServer(int64_t idle_timeout_ms = 60'000) {
    HttpServer::Options o;
    o.port = 0;
    o.idle_timeout_ms = idle_timeout_ms;
    auto s = HttpServer::Create(o, [this](HttpRequest req, Responder respond) {
      ++handled_;
      HttpResponse r;
      if (req.path == "/hold") {  // answered only by the test, later
        std::lock_guard<std::mutex> l(held_mu_);
        held_.push_back(std::move(respond));
        return;
      }
      if (req.path.rfind("/status/", 0) == 0) {
        r.status = std::stoi(req.path.substr(8));
        r.body = R"({"error":"asked for it"})";
      } else {
        r.body = req.method + " " + *req.body;
      }
      respond(std::move(r));
    }, [](const HttpRequest& head) -> std::optional<HttpResponse> {
      if (head.path.rfind("/early/", 0) != 0) return std::nullopt;  // "100 Continue"
      return HttpResponse{std::stoi(head.path.substr(7)), "application/json", {},
                          R"({"error":"answered from the header"})"};
    });
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    server_->Start();
  }

  std::unique_ptr<HttpClient> Client(size_t max_connections = 64, bool expect_continue = false) {
    HttpClient::Options o;
    o.port = server_->port();
    o.max_connections = max_connections;
    o.expect_continue = expect_continue;
    auto c = HttpClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  size_t held() {
    std::lock_guard<std::mutex> l(held_mu_);
    return held_.size();
  }
  void AnswerHeld() {
    std::lock_guard<std::mutex> l(held_mu_);
    for (auto& r : held_) r(HttpResponse{});
    held_.clear();
  }

  std::atomic<int> handled_{0};
  std::mutex held_mu_;
  std::vector<Responder> held_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpClientTest, FetchReturnsStatusAndBody) {
  StartServer();
  auto client = Client();
  auto r = client->Fetch("POST", "/echo", "hello");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST hello");
}

// With expect_continue a body follows the server's "100 Continue"; an answer from the header is
// the response, its body never sent (the handler never sees it) and its connection not reused.
TEST_F(HttpClientTest, ExpectContinueSendsTheBodyOnlyAfterTheServersGoAhead) {
  StartServer();
  auto client = Client(64, /*expect_continue=*/true);
  for (const char* body : {"hello", "again"}) {
    auto r = client->Fetch("POST", "/echo", body);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, std::string("POST ") + body);
  }
  EXPECT_EQ(client->connections_opened(), 1u);  // kept alive across both
  auto refused = client->Fetch("POST", "/early/503", std::string(100'000, 'x'));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("answered from the header"), std::string::npos);
  EXPECT_EQ(handled_.load(), 2);
  auto after = client->Fetch("POST", "/echo", "after");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->body, "POST after");
  EXPECT_EQ(client->connections_opened(), 2u);
}

TEST_F(HttpClientTest, ErrorAnswersMapBackToTheirStatusCodes) {
  StartServer();
  auto client = Client();
  auto r503 = client->Fetch("GET", "/status/503");
  ASSERT_TRUE(r503.ok());
  Status s = StatusFromHttpResponse(*r503);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "HTTP 503: asked for it");
  EXPECT_EQ(StatusFromHttpResponse(*client->Fetch("GET", "/status/504")).code(),
            StatusCode::kDeadlineExceeded);
  EXPECT_EQ(StatusFromHttpResponse(*client->Fetch("GET", "/status/404")).code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(StatusFromHttpResponse(*client->Fetch("GET", "/echo")).ok());
}

TEST_F(HttpClientTest, ManyRequestsShareTheConnectionCap) {
  StartServer();
  auto client = Client(/*max_connections=*/3);
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  std::promise<void> all;
  std::atomic<int> left{kRequests};
  auto body = std::make_shared<const std::string>("x");
  for (int i = 0; i < kRequests; ++i) {
    client->Send("POST", "/echo", {}, body, [&](Status s, HttpClientResponse r) {
      if (s.ok() && r.status == 200 && r.body == "POST x") ++ok;
      if (--left == 0) all.set_value();
    });
  }
  all.get_future().wait();
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_LE(client->connections_opened(), 3u);
  EXPECT_EQ(handled_.load(), kRequests);
}

TEST_F(HttpClientTest, AConnectionTheServerClosedWhileIdleIsRetriedOnce) {
  StartServer(/*idle_timeout_ms=*/50);
  auto client = Client();
  ASSERT_TRUE(client->Fetch("GET", "/echo").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the server closes it
  auto again = client->Fetch("GET", "/echo");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(client->connections_opened(), 2u);
}

TEST_F(HttpClientTest, DestroyingTheClientCancelsRequestsInFlight) {
  StartServer();
  auto client = Client();
  std::atomic<int> cancelled{0}, other{0};
  for (int i = 0; i < 3; ++i) {
    client->Send("GET", "/hold", {}, nullptr, [&](Status s, HttpClientResponse) {
      (s.code() == StatusCode::kCancelled ? cancelled : other)++;
    });
  }
  while (held() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  client.reset();
  EXPECT_EQ(cancelled.load(), 3);
  EXPECT_EQ(other.load(), 0);
  AnswerHeld();  // to connections the client closed: dropped
}

TEST_F(HttpClientTest, NoServerIsUnavailable) {
  StartServer();
  HttpClient::Options o;
  o.port = server_->port();
  server_.reset();  // nothing listens there now
  auto client = HttpClient::Create(o);
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Fetch("GET", "/echo");
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
}

TEST_F(HttpClientTest, RejectsBadOptions) {
  HttpClient::Options o;
  o.port = 0;
  EXPECT_EQ(HttpClient::Create(o).status().code(), StatusCode::kInvalidArgument);
  o.port = 80;
  o.max_connections = 0;
  EXPECT_EQ(HttpClient::Create(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace batchwise
