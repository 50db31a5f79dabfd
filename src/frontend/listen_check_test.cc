// A port already taken, for each of the server's three listeners: Server::Create fails with one
// line naming the address and the flag, and `batchwise serve` prints that line and nothing of the
// listener's internals (gRPC's error tree, civetweb's "null context").
#include "frontend/listen_check.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "app/server.h"
#include "serving/testing/fake_engine.h"
#include "serving/testing/scheduler_harness.h"

namespace batchwise {
namespace {

// A port held by a listening socket for the test's lifetime.
class TakenPort {
 public:
  TakenPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "cannot take a port";
    }
    port_ = ntohs(a.sin_port);
  }
  ~TakenPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

struct Listener {
  const char* flag;
  void (*set)(ServerOptions&, int);  // puts the port in the options
};

class PortInUseTest : public ::testing::TestWithParam<Listener> {
 protected:
  void SetUp() override { std::filesystem::create_directories(repository_); }
  void TearDown() override { std::filesystem::remove_all(repository_); }

  std::string Expected() const {
    return "cannot listen on 127.0.0.1:" + std::to_string(taken_.port()) + " (" + GetParam().flag +
           "): address already in use";
  }

  const std::string repository_ =
      (std::filesystem::temp_directory_path() / ("bw-ports-" + std::to_string(::getpid())))
          .string();
  TakenPort taken_;
};

TEST_P(PortInUseTest, ServerCreateNamesTheAddressAndTheFlag) {
  ServerOptions so;
  so.model_repository = repository_;
  so.http.host = "127.0.0.1";
  so.http.port = 0;
  so.grpc.port = 0;
  so.metrics.port = 0;
  so.metrics.gpus = [] { return std::vector<GpuGauges>{}; };
  so.profiles_dir = "";
  GetParam().set(so, taken_.port());
  auto server = Server::Create(so, SystemClock(), testing::FakeEngineFactory().AsFactory(),
                               {testing::CpuProcessor("cpu:0", {0})});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server.status().message(), Expected());
}

// The CLI, as a user starts it: the only error printed is ours.
TEST_P(PortInUseTest, ServePrintsOneLineAndNoListenerInternals) {
  const std::string cli = BATCHWISE_CLI;
  if (!std::filesystem::exists(cli)) GTEST_SKIP() << "the batchwise CLI is not built: " << cli;
  std::string flags = " --http-port 0 --grpc-port 0 --metrics-port 0";
  const std::string flag = GetParam().flag;
  flags.replace(flags.find(flag + " 0"), flag.size() + 2,
                flag + " " + std::to_string(taken_.port()));
  // (A sanitizer build: the child's leak report at exit is not what this test reads.)
  const std::string command = "ASAN_OPTIONS=detect_leaks=0 " + cli +
                              " serve --host 127.0.0.1 --no-profile --processors cpu:0" +
                              " --model-repository " + repository_ + flags + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  const int rc = ::pclose(p);
  EXPECT_NE(rc, 0) << out;
  std::istringstream lines(out);
  int ours = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(Expected()) != std::string::npos) ++ours;
    EXPECT_EQ(line.find("null context"), std::string::npos) << line;
    EXPECT_EQ(line.find("UNKNOWN:"), std::string::npos) << line;          // gRPC's status tree
    EXPECT_EQ(line.find("No address added"), std::string::npos) << line;  // gRPC's log
  }
  EXPECT_EQ(ours, 1) << out;
}

INSTANTIATE_TEST_SUITE_P(
    EachListener, PortInUseTest,
    ::testing::Values(Listener{"--http-port", [](ServerOptions& o, int p) { o.http.port = p; }},
                      Listener{"--grpc-port", [](ServerOptions& o, int p) { o.grpc.port = p; }},
                      Listener{"--metrics-port",
                               [](ServerOptions& o, int p) { o.metrics.port = p; }}),
    [](const auto& info) {
      return std::string(info.param.flag + 2) == "http-port"   ? "Http"
             : std::string(info.param.flag + 2) == "grpc-port" ? "Grpc"
                                                               : "Metrics";
    });

TEST(ListenCheckTest, AFreePortAndPortZeroPass) {
  EXPECT_TRUE(CheckCanListen("127.0.0.1", 0, "--x").ok());
  int free_port;
  {
    TakenPort t;
    free_port = t.port();
  }
  EXPECT_TRUE(CheckCanListen("127.0.0.1", free_port, "--x").ok());
  TakenPort t;
  EXPECT_FALSE(CheckCanListen("127.0.0.1", t.port(), "--x").ok());
  EXPECT_NE(CheckCanListen("no such host name.invalid", 80, "--x").message().find("bad address"),
            std::string::npos);
}

}  // namespace
}  // namespace batchwise
