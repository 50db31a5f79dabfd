// `batchwise bench`: the load generator against a running KServe v2 server over HTTP (binary
// tensors) or gRPC (raw_input_contents; --protocol grpc). Open loop (constant or Poisson arrivals
// on a rate schedule of steps and ramps, one schedule per model, latency counted from each
// request's intended send time) or closed loop (N clients). Prints a table per model and phase;
// writes JSON, CSV time series and a plot of latency, goodput and the server's batch size (polled
// from /v2/batchwise/models) over time.
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "loadgen/arrivals.h"
#include "loadgen/driver.h"
#include "loadgen/grpc_client.h"
#include "loadgen/http_client.h"
#include "loadgen/kserve_load.h"
#include "loadgen/load_report.h"

namespace batchwise::cli {
namespace {

using json = nlohmann::json;

struct BenchArgs {
  std::string url = "http://127.0.0.1:8000";
  std::string protocol = "http";  // or "grpc": inference over gRPC, the rest still over HTTP
  std::string grpc_url = "127.0.0.1:8001";
  int grpc_channels = 1;
  bool expect_continue = false;
  std::vector<std::string> models;  // NAME or NAME=SCHEDULE
  std::string schedule = "20s@100";
  std::string arrivals = "poisson";
  int concurrency = 0;  // > 0: closed loop
  double duration_s = 20;
  double warmup_s = 2;
  double slo_ms = 0;  // 0: each model's latency target from its config
  int batch = 1;
  size_t max_outstanding = 1024;
  int client_threads = 1;
  double window_s = 1;
  int poll_ms = 500;
  uint64_t seed = 1;
  std::string json_path, csv_path, plot_path;
};

Status ParseUrl(const std::string& url, HttpClient::Options& o) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  if (rest.rfind("https://", 0) == 0) return InvalidArgument("https is not supported: " + url);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos) {
    o.host = rest;
    o.port = 80;
    return Status::Ok();
  }
  o.host = rest.substr(0, colon);
  try {
    o.port = std::stoi(rest.substr(colon + 1));
  } catch (const std::exception&) {
    return InvalidArgument("bad port in " + url);
  }
  return Status::Ok();
}

// The model's own latency target (Triton-style config parameter), else 100 ms.
double ModelSloMs(HttpClient& client, const std::string& model) {
  auto r = client.Fetch("GET", "/v2/models/" + model + "/config");
  if (!r.ok() || !StatusFromHttpResponse(*r).ok()) return 100;
  json c = json::parse(r->body, nullptr, false);
  try {
    double ms = std::stod(
        c.at("parameters").at("batchwise_latency_target_ms").at("string_value").get<std::string>());
    return ms > 0 ? ms : 100;
  } catch (const std::exception&) {
    return 100;
  }
}

std::string PhaseLabel(const RatePhase& p) {
  const double s = std::chrono::duration<double>(p.duration).count();
  if (p.start_rate_per_s == p.end_rate_per_s)
    return fmt::format("{:g}s@{:g}/s", s, p.start_rate_per_s);
  return fmt::format("{:g}s@{:g}->{:g}/s", s, p.start_rate_per_s, p.end_rate_per_s);
}

// One model's load: its request, its schedule, its run.
struct ModelPlan {
  std::string name;
  RateSchedule schedule{{}};                                         // open loop
  EncodedInferRequest request;                                       // --protocol http
  std::shared_ptr<const inference::ModelInferRequest> grpc_request;  // --protocol grpc
  ModelLoadResult result;
};

Result<std::vector<ModelPlan>> Plan(const BenchArgs& a, HttpClient& client, GrpcClient* grpc) {
  std::vector<ModelPlan> plans;
  for (const std::string& spec : a.models) {
    ModelPlan p;
    size_t eq = spec.find('=');
    p.name = spec.substr(0, eq);
    auto schedule = RateSchedule::Parse(eq == std::string::npos ? a.schedule : spec.substr(eq + 1));
    if (!schedule.ok()) return schedule.status().WithContext("schedule of '" + p.name + "'");
    p.schedule = std::move(*schedule);
    if (grpc != nullptr) {
      auto r = PrepareGrpcInferRequest(*grpc, p.name, a.batch, a.seed);
      if (!r.ok()) return r.status().WithContext(a.grpc_url);
      p.grpc_request = *r;
    } else {
      BW_ASSIGN_OR_RETURN(p.request, PrepareInferRequest(client, p.name, a.batch, a.seed));
    }
    p.result.model = p.name;
    p.result.slo_ms = a.slo_ms > 0 ? a.slo_ms : ModelSloMs(client, p.name);
    plans.push_back(std::move(p));
  }
  return plans;
}

Duration Seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

void RunModel(const BenchArgs& a, Clock& clock, HttpClient& client, GrpcClient* grpc,
              TimePoint start, ModelPlan& p) {
  const Duration slo = Seconds(p.result.slo_ms / 1000);
  LoadTimeSeries series(start, Seconds(a.window_s), slo);
  DriverOptions o;
  o.slo = slo;
  o.warmup = Seconds(a.warmup_s);
  o.max_outstanding = a.max_outstanding;
  o.on_complete = [&series](TimePoint intended, TimePoint done, const Status& s) {
    series.Record(intended, done, s);
  };
  SendFn send =
      grpc != nullptr ? GrpcInferSender(*grpc, p.grpc_request) : InferSender(client, p.request);
  if (a.concurrency > 0) {
    LoadReport r = RunClosedLoop(clock, a.concurrency, Seconds(a.duration_s), send, o);
    p.result.result.total = r;
    p.result.result.phases = {r};
    p.result.phase_labels = {fmt::format("closed {} clients", a.concurrency)};
  } else {
    for (const auto& ph : p.schedule.phases()) p.result.phase_labels.push_back(PhaseLabel(ph));
    ArrivalGenerator arrivals(
        p.schedule, a.arrivals == "constant" ? ArrivalProcess::kConstant : ArrivalProcess::kPoisson,
        a.seed + std::hash<std::string>{}(p.name));
    p.result.result = RunOpenLoop(clock, arrivals, send, o);
  }
  p.result.series = series.Take();
}

Status Write(const BenchArgs& a, const std::vector<ModelLoadResult>& results,
             const std::vector<ControllerPoller::Sample>& controller) {
  if (!a.json_path.empty()) {
    json j = LoadResultsJson(results, controller);
    j["command"] = {{"url", a.url},           {"protocol", a.protocol},
                    {"arrivals", a.arrivals}, {"concurrency", a.concurrency},
                    {"batch", a.batch},       {"warmup_s", a.warmup_s},
                    {"seed", a.seed}};
    if (a.protocol == "grpc") j["command"]["grpc_url"] = a.grpc_url;
    std::ofstream(a.json_path) << j.dump(2) << "\n";
  }
  if (!a.csv_path.empty())
    BW_RETURN_IF_ERROR(WriteLoadCsv(results, controller, a.csv_path, a.window_s));
  if (!a.plot_path.empty()) {
    BW_RETURN_IF_ERROR(WriteLoadPlot(results, controller, a.plot_path, a.window_s,
                                     "batchwise bench against " + a.url));
  }
  return Status::Ok();
}

Status RunBench(const BenchArgs& a) {
  if (a.models.empty()) return InvalidArgument("name at least one model (-m NAME[=SCHEDULE])");
  if (a.arrivals != "poisson" && a.arrivals != "constant") {
    return InvalidArgument("--arrivals must be poisson or constant");
  }
  if (a.protocol != "http" && a.protocol != "grpc") {
    return InvalidArgument("--protocol must be http or grpc");
  }
  if (a.window_s <= 0 || a.poll_ms <= 0)
    return InvalidArgument("--window-s and --poll-ms must be > 0");
  HttpClient::Options co;
  BW_RETURN_IF_ERROR(ParseUrl(a.url, co));
  co.threads = a.client_threads;
  co.expect_continue = a.expect_continue;
  co.max_connections = a.concurrency > 0 ? static_cast<size_t>(a.concurrency) * a.models.size() + 2
                                         : a.max_outstanding * a.models.size() + 2;
  BW_ASSIGN_OR_RETURN(auto client, HttpClient::Create(co));
  std::unique_ptr<GrpcClient> grpc;
  if (a.protocol == "grpc") {
    GrpcClient::Options go;
    go.target = a.grpc_url;
    go.channels = a.grpc_channels;
    BW_ASSIGN_OR_RETURN(grpc, GrpcClient::Create(go));
  }
  auto planned = Plan(a, *client, grpc.get());
  if (!planned.ok()) return planned.status().WithContext(a.url);
  std::vector<ModelPlan> plans = std::move(*planned);

  Clock& clock = SystemClock();
  const TimePoint start = clock.Now();
  std::vector<ControllerPoller::Sample> controller;
  {
    ControllerPoller poller(clock, *client, start, std::chrono::milliseconds(a.poll_ms));
    std::vector<std::jthread> runs;
    for (size_t i = 0; i < plans.size(); ++i) {
      runs.emplace_back([&, i] { RunModel(a, clock, *client, grpc.get(), start, plans[i]); });
    }
    runs.clear();  // joins
    poller.Stop();
    controller = poller.samples();
  }
  std::vector<ModelLoadResult> results;
  for (auto& p : plans) results.push_back(std::move(p.result));
  std::fputs(FormatLoadResults(results).c_str(), stdout);
  if (grpc == nullptr) {
    std::printf("connections opened: %zu\n", client->connections_opened());
  } else {
    std::printf("gRPC channels: %d\n", a.grpc_channels);
  }
  return Write(a, results, controller);
}

}  // namespace

Command AddBenchCommand(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand(
      "bench", "Load generator: drive a running server over HTTP or gRPC (open or closed loop)");
  cmd->add_option("--url", a->url,
                  "Server's HTTP endpoint (http://host:port): inference with --protocol http, "
                  "the model's latency target and the controller polling with either")
      ->capture_default_str();
  cmd->add_option("--protocol", a->protocol, "Inference over http or grpc")->capture_default_str();
  cmd->add_option("--grpc-url", a->grpc_url, "Server's gRPC endpoint (host:port)")
      ->capture_default_str();
  cmd->add_option("--grpc-channels", a->grpc_channels,
                  "gRPC channels (TCP connections) the calls are spread over")
      ->capture_default_str();
  cmd->add_flag("--expect-continue", a->expect_continue,
               "HTTP: send each request's tensors only after the server's \"100 Continue\" "
               "(Expect: 100-continue, as curl does for large bodies); a refusal then comes "
               "before the upload");
  cmd->add_option(
         "-m,--model", a->models,
         "Model to send requests to, NAME or NAME=SCHEDULE (its own rate schedule); repeatable")
      ->required();
  cmd->add_option("--schedule", a->schedule,
                  "Open-loop rate schedule: DURATION@RATE or DURATION@FROM->TO phases, "
                  "comma-separated (e.g. 20s@100,20s@300,20s@100->500)")
      ->capture_default_str();
  cmd->add_option("--arrivals", a->arrivals, "poisson or constant")->capture_default_str();
  cmd->add_option("-c,--concurrency", a->concurrency,
                  "Closed loop with this many clients per model instead of the schedule");
  cmd->add_option("--duration-s", a->duration_s, "Closed loop: run time")->capture_default_str();
  cmd->add_option("--warmup-s", a->warmup_s, "Not counted from the start")->capture_default_str();
  cmd->add_option("--slo-ms", a->slo_ms,
                  "Latency target for goodput/SLO attainment (default: the model's target)");
  cmd->add_option("--batch", a->batch, "Samples per request")->capture_default_str();
  cmd->add_option("--max-outstanding", a->max_outstanding,
                  "Open loop: requests in flight per model at most (beyond: counted NOT_SENT)")
      ->capture_default_str();
  cmd->add_option("--client-threads", a->client_threads, "HTTP client threads")
      ->capture_default_str();
  cmd->add_option("--window-s", a->window_s, "Time-series window")->capture_default_str();
  cmd->add_option("--poll-ms", a->poll_ms, "Controller-state polling period")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Arrival and tensor seed")->capture_default_str();
  cmd->add_option("--json", a->json_path, "Write everything as JSON");
  cmd->add_option("--csv", a->csv_path, "Write time series (and <name>.controller.csv)");
  cmd->add_option("--plot", a->plot_path, "Write a PNG of latency, goodput and batch size");
  return [a] {
    Status s = RunBench(*a);
    if (!s.ok()) {
      spdlog::error("bench: {}", s.ToString());
      return 1;
    }
    return 0;
  };
}

}  // namespace batchwise::cli
