// Server wiring: where the frontend's threads run (ServerOptions::frontend_cores); readiness when a
// model fails to load; what stops the start.
#include "app/server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backend/engine_util.h"
#include "device/format.h"
#include "frontend/testing/http_client.h"
#include "frontend/testing/server_fixture.h"
#include "serving/testing/fake_engine.h"
#include "serving/testing/scheduler_harness.h"

namespace batchwise {
namespace {

namespace fs = std::filesystem;
using testing::ClientResponse;
using testing::CpuProcessor;
using testing::FakeEngineFactory;
using testing::FakeModelServer;
using testing::FakeServerOptions;
using testing::HttpClient;
using nlohmann::json;

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


// Strict readiness: a model that should be serving but failed to load keeps the server unready,
// says so in the repository index, and stops counting once it is unloaded.
TEST(ServerReadinessTest, AModelThatFailedToLoadKeepsTheServerUnready) {
  FakeServerOptions o;
  o.models = {"tiny", "spare"};
  o.engine.fail_load = [](const ModelConfig& c) { return c.name == "spare"; };
  o.grpc_port = 0;
  FakeModelServer server(o);
  ASSERT_EQ(server.server().load_failures().size(), 1u);
  HttpClient http(server.port());
  ClientResponse ready = http.Get("/v2/health/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("model 'spare' failed to load"), std::string::npos) << ready.body;
  EXPECT_EQ(http.Get("/v2/health/live").status, 200);
  EXPECT_EQ(http.Get("/v2/models/tiny/ready").status, 200);  // the others serve meanwhile
  EXPECT_FALSE(server.server().service().ready());            // what gRPC ServerReady answers

  ClientResponse index = http.Post("/v2/repository/index", "{}");
  ASSERT_EQ(index.status, 200);
  json entries = json::parse(index.body);
  bool listed = false;
  for (const auto& e : entries) {
    if (e["name"] != "spare") continue;
    listed = true;
    EXPECT_EQ(e["state"], "UNAVAILABLE");
    EXPECT_NE(e["reason"].get<std::string>().find("spare"), std::string::npos) << e;
  }
  EXPECT_TRUE(listed) << index.body;

  // A load of a name the repository does not hold is a client's mistake, not a failed model.
  EXPECT_EQ(http.Post("/v2/repository/models/nope/load", "{}").status, 404);
  EXPECT_EQ(http.Get("/v2/health/ready").status, 503);
  // The operator gives up on the model: ready again.
  EXPECT_EQ(http.Post("/v2/repository/models/spare/unload", "{}").status, 200);
  EXPECT_EQ(http.Get("/v2/health/ready").status, 200);
  EXPECT_TRUE(server.server().service().ready());
}

TEST(ServerReadinessTest, AFailedLoadThroughTheRepositoryAlsoCountsUntilItLoads) {
  auto fail = std::make_shared<std::atomic<bool>>(true);
  FakeServerOptions o;
  o.engine.fail_load = [fail](const ModelConfig& c) { return c.name == "spare" && fail->load(); };
  FakeModelServer server(o);
  HttpClient http(server.port());
  EXPECT_EQ(http.Get("/v2/health/ready").status, 200);
  EXPECT_EQ(http.Post("/v2/repository/models/spare/load", "{}").status / 100, 5);
  EXPECT_EQ(http.Get("/v2/health/ready").status, 503);
  fail->store(false);
  EXPECT_EQ(http.Post("/v2/repository/models/spare/load", "{}").status, 200);
  EXPECT_EQ(http.Get("/v2/health/ready").status, 200);
}

TEST(ServerStartTest, AMissingRepositoryOrAModelNotInItStopsTheStart) {
  ServerOptions so;
  so.model_repository = "/nonexistent/batchwise-repository";
  so.http.port = 0;
  so.grpc.port = -1;
  so.metrics.port = -1;
  so.profiles_dir = "";
  auto missing = Server::Create(so, SystemClock(), FakeEngineFactory().AsFactory(),
                                {CpuProcessor("cpu:0", {0})});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("is not a folder"), std::string::npos)
      << missing.status().ToString();

  FakeServerOptions o;
  o.models = {"tiny", "tinny"};
  try {
    FakeModelServer server(o);
    ADD_FAILURE() << "a server started with a model the repository does not hold";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'tinny' is not a model of the repository"),
              std::string::npos)
        << e.what();
  }
}

// Placement through the real path: an engine that cannot start on the chosen processor starts on
// the next one, and the decision record says why the first was passed over.
TEST(ServerPlacementTest, AnEngineThatFailsOnOneProcessorStartsOnTheNext) {
  FakeServerOptions o;
  o.engine.fail_load_on = [](const ModelConfig& c, const std::string& processor) {
    return c.name == "tiny" && processor == "cpu:0";  // cpu:0 wins the tie (smaller id)
  };
  FakeModelServer server(o);
  EXPECT_TRUE(server.server().load_failures().empty());
  EXPECT_TRUE(server.server().service().ready());
  const auto on = server.server().scheduler().Instances("tiny");
  ASSERT_EQ(on.size(), 1u);
  EXPECT_EQ(on[0].processor, "cpu:1");
  const auto decisions = server.server().scheduler().Decisions("tiny");
  ASSERT_EQ(decisions.size(), 2u);
  EXPECT_EQ(decisions[0].chosen, "cpu:0");
  EXPECT_EQ(decisions[1].chosen, "cpu:1");
  const CandidateScore& passed = decisions[1].candidates[0];
  EXPECT_EQ(passed.processor_id, "cpu:0");
  EXPECT_NE(passed.excluded.find("the engine failed to start here"), std::string::npos)
      << passed.excluded;
  EXPECT_NE(passed.excluded.find("cannot load 'tiny' on cpu:0"), std::string::npos)
      << passed.excluded;
}

TEST(ServerPlacementTest, AnEngineThatFailsEverywhereIsNotLoadedAndSaysWhy) {
  FakeServerOptions o;
  o.models = {"tiny", "spare"};
  o.engine.fail_load_on = [](const ModelConfig& c, const std::string&) {
    return c.name == "spare";
  };
  FakeModelServer server(o);
  ASSERT_EQ(server.server().load_failures().size(), 1u);
  const std::string& why = server.server().load_failures()[0];
  EXPECT_NE(why.find("INTERNAL"), std::string::npos) << why;  // the engine's error, not placement's
  EXPECT_NE(why.find("no processor could start 'spare' (tried 2)"), std::string::npos) << why;
  EXPECT_NE(why.find("cannot load 'spare' on cpu:0"), std::string::npos) << why;
  EXPECT_NE(why.find("cannot load 'spare' on cpu:1"), std::string::npos) << why;
  // cpu:1 (free); none (cpu:0 at its limit of one per core); cpu:0 overcommitted; none left.
  const auto decisions = server.server().scheduler().Decisions("spare");
  ASSERT_EQ(decisions.size(), 4u);
  EXPECT_EQ(decisions[0].chosen, "cpu:1");
  EXPECT_EQ(decisions[2].chosen, "cpu:0");
  EXPECT_TRUE(decisions[3].chosen.empty());
}

// More models than cores: the one that finds every processor at its limit shares the least busy
// one, and the records name the limit that was reached.
TEST(ServerPlacementTest, AModelBeyondTheInstanceLimitOvercommitsAndTheLimitIsNamed) {
  FakeServerOptions o;
  o.cpu_processors = 1;
  o.models = {"tiny", "spare"};
  {
    FakeModelServer server(o);
    EXPECT_TRUE(server.server().load_failures().empty());
    const auto on = server.server().scheduler().Instances("spare");
    ASSERT_EQ(on.size(), 1u);
    EXPECT_EQ(on[0].processor, "cpu:0");
    const auto decisions = server.server().scheduler().Decisions("spare");
    ASSERT_EQ(decisions.size(), 2u);
    EXPECT_TRUE(decisions[0].chosen.empty());
    EXPECT_NE(decisions[0].candidates[0].excluded.find(
                  "already runs 1 instance(s), one instance per core of a 1-core partition (1)"),
              std::string::npos)
        << decisions[0].candidates[0].excluded;
    EXPECT_EQ(decisions[1].reason.rfind("every processor that can run it is at its instance "
                                        "limit: overcommitted; least workload",
                                        0),
              0u)
        << decisions[1].reason;
  }
  o.overcommit = false;
  FakeModelServer strict(o);
  ASSERT_EQ(strict.server().load_failures().size(), 1u);
  EXPECT_NE(strict.server().load_failures()[0].find("RESOURCE_EXHAUSTED"), std::string::npos)
      << strict.server().load_failures()[0];
  EXPECT_FALSE(strict.server().service().ready());
}

}  // namespace
}  // namespace batchwise
