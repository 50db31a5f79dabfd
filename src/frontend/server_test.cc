// Server wiring: where the frontend's threads run (ServerOptions::frontend_cores).
#include "frontend/server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backend/engine_util.h"
#include "device/format.h"
#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"

namespace batchwise {
namespace {

namespace fs = std::filesystem;
using testing::FakeModelServer;
using testing::FakeServerOptions;

// The Cpus_allowed_list of every thread of this process named `name`.
std::vector<std::string> ThreadCpuLists(const std::string& name) {
  std::vector<std::string> out;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream status(task.path() / "status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Cpus_allowed_list:", 0) == 0) {
        out.push_back(line.substr(line.find_first_not_of(" \t", 18)));
      }
    }
  }
  return out;
}

bool HasCores01() {
  auto allowed = AllowedCpus();
  return allowed.size() >= 2 && allowed[0] == 0 && allowed[1] == 1;
}

TEST(ServerFrontendCoresTest, AutoKeepsTheHttpThreadsOffTheProcessorsCores) {
  if (!HasCores01()) GTEST_SKIP() << "needs cores 0 and 1";
  std::vector<int> rest = AllowedCpus();
  rest.erase(rest.begin());  // the server below has one processor, on core 0
  FakeServerOptions o;
  o.cpu_processors = 1;
  FakeModelServer server(o);
  auto lists = ThreadCpuLists("bw-http");
  ASSERT_EQ(lists.size(), 2u);
  for (const auto& l : lists) EXPECT_EQ(l, CoreList(rest));
  // The model still loads and runs on core 0 (the engine pins itself there), and is served.
  testing::HttpClient client(server.port());
  auto r = client.Post("/v2/models/tiny/infer",
                       R"({"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32",)"
                       R"("data":[1,2,3,4]}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  // The main thread got its mask back: what loads later may use every allowed core.
  EXPECT_EQ(AllowedCpus().size(), rest.size() + 1);
}

TEST(ServerFrontendCoresTest, AutoLeavesThemAloneWhenProcessorsHoldEveryCore) {
  if (!HasCores01()) GTEST_SKIP() << "needs cores 0 and 1";
  std::vector<int> allowed = AllowedCpus();
  FakeServerOptions o;
  o.cpu_processors = static_cast<int>(allowed.back()) + 1;
  FakeModelServer server(o);
  for (const auto& l : ThreadCpuLists("bw-http")) EXPECT_EQ(l, CoreList(allowed));
}

TEST(ServerFrontendCoresTest, AnExplicitListPinsThemAndABadOneIsAnError) {
  if (!HasCores01()) GTEST_SKIP() << "needs cores 0 and 1";
  FakeServerOptions o;
  o.frontend_cores = "0";
  {
    FakeModelServer server(o);
    for (const auto& l : ThreadCpuLists("bw-http")) EXPECT_EQ(l, "0");
  }
  for (std::string bad : {"1-0", "x", "0,", "99999", "1;2"}) {
    o.frontend_cores = bad;
    EXPECT_THROW(FakeModelServer{o}, std::runtime_error) << bad;
  }
}

}  // namespace
}  // namespace batchwise
