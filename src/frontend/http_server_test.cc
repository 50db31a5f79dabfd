// HttpServer's framing and connection handling, driven over raw sockets (a client library would
// normalise exactly the bytes these tests are about). The handler is a trivial echo; no models.
#include "frontend/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "frontend/http_status.h"
#include "frontend/testing/raw_connection.h"

namespace batchwise {
namespace {

using testing::RawConnection;

// GET and POST: 200 with "<method> <path> <body bytes>"; HEAD: 405 with an error body (as the
// KServe routes answer it).
void Echo(HttpRequest request, Responder respond) {
  if (request.method == "HEAD") {
    return respond({405, "application/json", {}, ErrorBody("HEAD is not allowed here")});
  }
  respond({200,
           "text/plain",
           {},
           request.method + " " + request.path + " " + std::to_string(request.body->size())});
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServer::Options o = {}) {
    o.port = 0;
    o.max_header_bytes = 4096;
    auto s = HttpServer::Create(o, Echo);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    server_->Start();
  }
  void SetUp() override { Start(); }
  int port() const { return server_->port(); }

  std::unique_ptr<HttpServer> server_;
};

constexpr char kSmuggled[] = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

// Each shape carries a body that is itself a request: it must never be answered.
class HttpFramingTest : public HttpServerTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(HttpFramingTest, AmbiguousFramingIs400AndCloseWithoutParsingTheBody) {
  RawConnection c(port());
  ASSERT_TRUE(c.connected());
  const std::string body = kSmuggled;
  c.Send("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\n" + GetParam() + "\r\n\r\n" + body);
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400) << r->header << r->body;
  EXPECT_NE(r->header.find("connection: close"), std::string::npos) << r->header;
  EXPECT_NE(r->body.find("\"error\""), std::string::npos) << r->body;
  std::string more;
  EXPECT_TRUE(c.ClosedWithNothingMore(&more)) << "after the 400: <" << more << ">";
}

INSTANTIATE_TEST_SUITE_P(Shapes, HttpFramingTest,
                         ::testing::Values("Transfer-Encoding: identity",
                                           "Transfer-Encoding: xchunked",
                                           "Transfer-Encoding: chunked, identity",
                                           "Transfer-Encoding: identity\r\nContent-Length: 35",
                                           "Content-Length: 35\r\nTransfer-Encoding: chunked",
                                           "Transfer-Encoding: chunked\r\nContent-Length: 35",
                                           "Transfer-Encoding: gzip, chunked",
                                           "Transfer-Encoding: "));

TEST_F(HttpServerTest, ChunkedBodyIsRead) {
  RawConnection c(port());
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n");
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /echo 5");
  c.Send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "GET /next 0");
}

TEST_F(HttpServerTest, Http10WithTransferEncodingIs400) {
  RawConnection c(port());
  c.Send("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.ClosedWithNothingMore());
}

TEST_F(HttpServerTest, HeadAnswerHasNoBodyAndTheConnectionStaysInStep) {
  RawConnection c(port());
  c.Send("HEAD /v2/models/x/infer HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c.ReadResponse(/*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 405);
  c.Send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
  auto get = c.ReadResponse();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200) << get->header;
  EXPECT_EQ(get->body, "GET /after 0");
}

std::string ChunkedPost(const std::string& after_last_chunk) {
  return "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n" +
         after_last_chunk;
}

void Expect413AndClose(RawConnection& c) {
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_NE(r->header.find("connection: close"), std::string::npos) << r->header;
  EXPECT_TRUE(c.ClosedWithNothingMore());
}

// max_header_bytes is 4096 here.
TEST_F(HttpServerTest, TrailerBeyondTheHeaderLimitIs413) {
  RawConnection c(port());
  c.Send(ChunkedPost("X-Big: " + std::string(5000, 'a') + "\r\n\r\n"));
  Expect413AndClose(c);
}

TEST_F(HttpServerTest, TrailerWithinTheHeaderLimitIsAccepted) {
  RawConnection c(port());
  c.Send(ChunkedPost("X-Small: " + std::string(3000, 'a') + "\r\n\r\n"));
  auto r = c.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(HttpServerTest, EndlessTrailerIs413WithoutWaitingForItsEnd) {
  RawConnection c(port());
  std::string fields;
  while (fields.size() < (2 << 20)) fields += "X-Field: " + std::string(100, 'a') + "\r\n";
  c.Send(ChunkedPost(fields));  // never terminated; the server stops reading it
  Expect413AndClose(c);
}

TEST_F(HttpServerTest, LongChunkExtensionIs413) {
  RawConnection c(port());
  c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=" +
         std::string(5000, 'a') + "\r\nabc\r\n0\r\n\r\n");
  Expect413AndClose(c);
}

// Polls (2 s at most) until the server holds `n` connections.
bool WaitForConnections(const HttpServer& s, size_t n) {
  for (int i = 0; i < 200 && s.connections() != n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return s.connections() == n;
}

TEST_F(HttpServerTest, ConnectionsAboveTheCapGet503AndClose) {
  HttpServer::Options o;
  o.max_connections = 4;
  server_.reset();
  Start(o);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<RawConnection>(port()));
  ASSERT_TRUE(WaitForConnections(*server_, 4));

  RawConnection fifth(port());
  auto refused = fifth.ReadResponse();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->header.find("connection: close"), std::string::npos) << refused->header;
  EXPECT_NE(refused->body.find("too many connections"), std::string::npos) << refused->body;
  EXPECT_TRUE(fifth.ClosedWithNothingMore());

  idle[0]->Close();
  ASSERT_TRUE(WaitForConnections(*server_, 3));
  RawConnection next(port());
  next.Send("GET /served HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = next.ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /served 0");
}

// The highest descriptor this process has open.
int HighestOpenFd() {
  int highest = 2;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(e.path().filename().string()));
  }
  return highest;
}

std::chrono::microseconds CpuTime() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return std::chrono::seconds(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         std::chrono::microseconds(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// With no descriptor left, accept() fails with EMFILE and the connection stays in the backlog:
// the acceptor must pause (not spin on a core) and serve it once descriptors are free again.
TEST_F(HttpServerTest, AcceptWithoutDescriptorsBacksOffAndRecovers) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(HighestOpenFd() + 2);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> fillers;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) fillers.push_back(fd);
  ::close(fillers.back());  // one descriptor for the client's socket, none for the server
  fillers.pop_back();
  auto client = std::make_unique<RawConnection>(port());
  const bool connected = client->connected();
  const auto cpu0 = CpuTime();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto cpu = CpuTime() - cpu0;
  for (int fd : fillers) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_TRUE(connected);
  EXPECT_LT(cpu, std::chrono::milliseconds(150)) << "the acceptor spins on EMFILE";
  client->Send("GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = client->ReadResponse();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "GET /later 0");
}

TEST(HttpServerOptionsTest, MaxConnectionsMustBePositive) {
  HttpServer::Options o;
  o.max_connections = 0;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace batchwise
