// http_bench: what the HTTP frontend costs, measured against its baselines in the same run.
//
//  resnet: the raw engine's samples/s (ResNet-18, TorchScript, pinned to core 0, 1 thread, batches
//          of --batch) side by side with `batchwise serve` on the same core, fed over HTTP by
//          --resnet-clients keep-alive clients sending 1-sample binary requests while the server
//          batches them to --batch (fixed policy). Both stay loaded; raw and HTTP windows of
//          --duration-s alternate --rounds times after one --warmup-s of each.
//  mlp:    `batchwise serve` on the MLP, the whole process pinned to core 0, at saturating
//          concurrency (--mlp-clients keep-alive clients, binary requests of 1 sample); server CPU
//          time per request = Δ(utime+stime of the server process, /proc/<pid>/stat) / Δ(answered
//          requests), and the same per server thread (/proc/<pid>/task/*/stat, by thread name).
//  http-floor: the same clients and requests against our HttpServer (Beast/Asio, the kernel's TCP)
//          alone, in a child process pinned to core 0 whose handler answers every infer request
//          with the MLP server's own response bytes: what HTTP costs before KServe decoding,
//          scheduling, batching and the engine. The MLP's CPU per request minus this is ours.
// The server runs as a child process (build/batchwise) so its CPU time excludes the clients'. The
// clients are the load generator's (`batchwise bench -c`): closed-loop senders over one Beast
// keep-alive connection pool on one Asio thread pinned to cores 1.., request built from the model's
// metadata.
// Needs the generated models (tools/gen_models.py).
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/engine.h"
#include "common/clock.h"
#include "frontend/http_server.h"
#include "loadgen/driver.h"
#include "loadgen/http_client.h"
#include "loadgen/kserve_load.h"
#include "repository/model_config.h"
#include "proc_cpu.h"

namespace batchwise {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string batchwise = std::string(BATCHWISE_SOURCE_DIR) + "/build/batchwise";
  std::string models_dir = std::string(BATCHWISE_SOURCE_DIR) + "/models";
  std::vector<std::string> which = {"resnet", "mlp"};
  int batch = 8;
  int resnet_clients = 24;
  int mlp_clients = 128;  // well above the largest batch (64): batches fill without waiting
  std::vector<int> mlp_batches = {1, 8, 64};  // mlp-efficiency
  double warmup_s = 3;
  double duration_s = 10;
  int rounds = 2;
  int port = 18800;
  bool frontend_off_core0 = false;  // resnet: the server's non-engine threads off core 0
  bool raw_warmup_like_server =
      false;  // raw engine: 2 single-sample batches first, as serving does
};

int LastCore() { return static_cast<int>(std::thread::hardware_concurrency()) - 1; }

// The calling thread (and what it starts or forks) on cores [first, last], clamped to the machine.
void PinToCores(int first, int last) {
  cpu_set_t set;
  CPU_ZERO(&set);
  last = std::min(last, LastCore());
  for (int c = std::min(first, last); c <= last; ++c) CPU_SET(c, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

// `batchwise serve` as a child process.
class ServerProcess {
 public:
  // `frontend_off_core0`: once ready, every server thread but the engine's workers ("bw-*") is
  // moved to cores 1.. (as `taskset -p` would), so HTTP, batcher and monitor threads never
  // preempt the engine on core 0.
  // The server's threads may run on cores [0, last_core].
  ServerProcess(const BenchOptions& o, std::vector<std::string> args, bool frontend_off_core0,
                int last_core)
      : port_(o.port), frontend_off_core0_(frontend_off_core0) {
    args.insert(args.begin(), {o.batchwise, "--log-level", "warn", "serve", "--model-repository",
                               o.models_dir, "--http-port", std::to_string(o.port),
                               "--metrics-port", "-1", "--rebalance-period-ms", "0"});
    pid_ = fork();
    if (pid_ == 0) {
      PinToCores(0, last_core);  // not the bench's own pinning
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  // A child that runs `child_main(port)` on core 0 instead of `batchwise serve`. Fork before this
  // process starts any thread.
  ServerProcess(const BenchOptions& o, const std::function<int(int port)>& child_main)
      : port_(o.port), frontend_off_core0_(false) {
    pid_ = fork();
    if (pid_ == 0) {
      PinToCores(0, 0);
      _exit(child_main(o.port));
    }
  }
  ~ServerProcess() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  // Polls /v2/health/ready; then opens the load generator's client pool to the server.
  bool WaitReady() {
    HttpClient::Options co;
    co.port = port_;
    PinToCores(1, LastCore());  // the client's Asio thread inherits this: off the engine's core
    auto client = HttpClient::Create(co);
    PinToCores(0, LastCore());
    if (!client.ok()) return false;
    for (int i = 0; i < 600; ++i) {
      auto r = (*client)->Fetch("GET", "/v2/health/ready");
      if (r.ok() && r->status == 200) {
        if (frontend_off_core0_) MoveFrontendOffCore0();
        client_ = std::move(*client);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  HttpClient& client() const { return *client_; }
  // utime + stime of the server process (its threads, live and exited), seconds.
  double CpuSeconds() const { return StatCpuSeconds("/proc/" + std::to_string(pid_) + "/stat"); }
  // The same per live thread, summed by thread name.
  std::map<std::string, double> ThreadCpuSeconds() const {
    std::map<std::string, double> out;
    for (const auto& t :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/task")) {
      std::ifstream comm(t.path() / "comm");
      std::string name;
      std::getline(comm, name);
      out[name] += StatCpuSeconds(t.path() / "stat");
    }
    return out;
  }

 private:
  void MoveFrontendOffCore0() const {
    const std::string task = "/proc/" + std::to_string(pid_) + "/task";
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 1; c < static_cast<int>(std::thread::hardware_concurrency()); ++c)
      CPU_SET(c, &set);
    for (const auto& t : std::filesystem::directory_iterator(task)) {
      std::ifstream comm(t.path() / "comm");
      std::string name;
      std::getline(comm, name);
      if (name.rfind("bw-", 0) == 0) continue;  // an engine worker: stays pinned
      sched_setaffinity(std::stoi(t.path().filename().string()), sizeof(set), &set);
    }
  }

  int port_;
  bool frontend_off_core0_;
  pid_t pid_ = -1;
  std::unique_ptr<HttpClient> client_;
};

struct LoadResult {
  double requests_per_s = 0;
  double server_cpu_us_per_request = 0;
  std::map<std::string, double> thread_cpu_us_per_request;  // by server thread name
  int64_t failures = 0;
};

// The model's 1-sample binary request, built once from its metadata on the server.
std::optional<EncodedInferRequest> OneSampleRequest(const ServerProcess& server,
                                                    const std::string& model) {
  auto request = PrepareInferRequest(server.client(), model, 1, 7);
  if (!request.ok()) {
    std::fprintf(stderr, "%s\n", request.status().ToString().c_str());
    return std::nullopt;
  }
  return std::move(*request);
}

// `clients` closed-loop senders of 1-sample binary requests for warmup + duration; counts what is
// answered after the warm-up, and the server's CPU time over the same window.
LoadResult Drive(const ServerProcess& server, const EncodedInferRequest& request, int clients,
                 double warmup_s, double duration_s) {
  LoadResult r;
  DriverOptions d;
  d.warmup = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(warmup_s));
  d.slo = std::chrono::seconds(60);
  double cpu0 = 0;
  std::map<std::string, double> threads0;
  std::jthread sampler([&] {  // the server's CPU time when the warm-up ends
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup_s));
    cpu0 = server.CpuSeconds();
    threads0 = server.ThreadCpuSeconds();
  });
  const Duration run =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(warmup_s + duration_s));
  const LoadReport report =
      RunClosedLoop(SystemClock(), clients, run, InferSender(server.client(), request), d);
  const double cpu1 = server.CpuSeconds();
  const std::map<std::string, double> threads1 = server.ThreadCpuSeconds();
  sampler.join();
  r.requests_per_s = report.throughput_per_s();
  r.server_cpu_us_per_request =
      report.ok ? (cpu1 - cpu0) * 1e6 / static_cast<double>(report.ok) : 0;
  r.failures = static_cast<int64_t>(report.sent - report.ok);
  if (report.ok) {
    for (const auto& [name, s] : threads1) {
      auto before = threads0.find(name);
      const double d = s - (before == threads0.end() ? 0 : before->second);
      if (d > 0) r.thread_cpu_us_per_request[name] = d * 1e6 / static_cast<double>(report.ok);
    }
  }
  return r;
}

// The raw engine as the server runs it: core 0, one thread, batches of `batch`.
class RawEngine {
 public:
  static std::unique_ptr<RawEngine> Create(const BenchOptions& o, const ModelConfig& config,
                                           EngineKind kind = EngineKind::kTorchScript) {
    const ModelEngineFile* file = config.FindEngine(kind);
    if (!file) {
      std::fprintf(stderr, "%s has no %s engine\n", config.name.c_str(),
                   std::string(EngineKindName(kind)).c_str());
      return nullptr;
    }
    EngineOptions eo;
    eo.model_path = file->path;
    eo.target.cpu_cores = {0};
    eo.target.num_threads = 1;
    eo.inputs = config.inputs;
    eo.outputs = config.outputs;
    auto engine = CreateEngine(kind, eo);
    if (!engine.ok()) {
      std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
      return nullptr;
    }
    auto raw = std::unique_ptr<RawEngine>(new RawEngine(std::move(*engine), o.batch));
    Shape shape = config.inputs[0].shape;
    shape[0] = o.batch;
    raw->input_ = Tensor::Allocate(DataType::kFp32, shape);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    for (float& v : raw->input_.mutable_as<float>()) v = normal(rng);
    if (o.raw_warmup_like_server) {  // the scheduler's warm-up: 2 batches of one sample
      Shape one = config.inputs[0].shape;
      one[0] = 1;
      Tensor single = Tensor::Allocate(DataType::kFp32, one);
      for (int i = 0; i < 2; ++i) (void)raw->engine_->Run({&single, 1});
    }
    return raw;
  }

  // Batches back to back for `seconds`: samples/s, 0 if a run failed.
  double SamplesPerS(double seconds) {
    int64_t samples = 0;
    const auto t0 = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds) {
      if (!engine_->Run({&input_, 1}).ok()) return 0.0;
      samples += batch_;
    }
    return static_cast<double>(samples) / std::chrono::duration<double>(Clock::now() - t0).count();
  }

 private:
  RawEngine(std::unique_ptr<Engine> engine, int batch)
      : engine_(std::move(engine)), batch_(batch) {}
  std::unique_ptr<Engine> engine_;
  Tensor input_;
  int batch_;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Raw engine and server both loaded for the whole run (both warmed up once), then measured in
// alternating windows: drift of the machine's speed over minutes (±10 % here) hits both alike.
int RunResnet(const BenchOptions& o) {
  auto config = LoadModelConfig(o.models_dir + "/resnet18");
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  auto raw = RawEngine::Create(o, *config);
  if (!raw) return 1;
  ServerProcess server(
      o,
      {"--models", "resnet18", "--processors", "cpu:0", "--batch-policy", "fixed", "--batch-size",
       std::to_string(o.batch), "--max-queue-delay-us", "1000000", "--http-threads", "1"},
      o.frontend_off_core0, LastCore());
  if (!server.WaitReady()) return 1;
  raw->SamplesPerS(o.warmup_s);  // TorchScript's profiling executor specialises on the first runs
  const auto request = OneSampleRequest(server, "resnet18");
  if (!request) return 1;
  Drive(server, *request, o.resnet_clients, o.warmup_s, 0);
  std::printf(
      "resnet18, torchscript on core 0 (1 thread), batch %d, %d HTTP clients of 1 sample, "
      "alternating %.0f s windows\n",
      o.batch, o.resnet_clients, o.duration_s);
  std::printf("%-6s %14s %14s %8s\n", "round", "raw samples/s", "http samples/s", "http/raw");
  double raw_sum = 0, http_sum = 0;
  std::vector<double> ratios;
  for (int round = 1; round <= o.rounds; ++round) {
    const double r = raw->SamplesPerS(o.duration_s);
    // 1 s for the 24 clients to fill the server's queue again, not counted.
    const LoadResult http = Drive(server, *request, o.resnet_clients, 1, o.duration_s);
    raw_sum += r;
    http_sum += http.requests_per_s;
    ratios.push_back(http.requests_per_s / r);
    std::printf("%-6d %14.2f %14.2f %7.1f%%  (%ld failed)\n", round, r, http.requests_per_s,
                100 * ratios.back(), static_cast<long>(http.failures));
  }
  std::printf("%-6s %14.2f %14.2f %7.1f%%  (median of the rounds' ratios %.1f%%)\n", "mean",
              raw_sum / o.rounds, http_sum / o.rounds, 100 * http_sum / raw_sum,
              100 * Median(ratios));
  return 0;
}

int RunMlp(const BenchOptions& o) {
  auto config = LoadModelConfig(o.models_dir + "/mlp_forecaster");
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  // The whole server on core 0, the clients on the others: the server saturates its core and
  // nothing it is charged for is the clients' work.
  ServerProcess server(
      o, {"--models", "mlp_forecaster", "--processors", "cpu:0", "--http-threads", "1"}, false, 0);
  if (!server.WaitReady()) return 1;
  const auto request = OneSampleRequest(server, "mlp_forecaster");
  if (!request) return 1;
  LoadResult r = Drive(server, *request, o.mlp_clients, o.warmup_s, o.duration_s);
  std::printf(
      "mlp_forecaster (%s engine), server on core 0, %d keep-alive clients, binary 1-sample "
      "requests, trend batching\n",
      std::string(EngineKindName(config->engines.front().engine)).c_str(), o.mlp_clients);
  std::printf("requests/s %.0f, server CPU %.1f us/request (%ld failed)\n", r.requests_per_s,
              r.server_cpu_us_per_request, static_cast<long>(r.failures));
  for (const auto& [name, us] : r.thread_cpu_us_per_request) {
    std::printf("  thread %-16s %6.1f us/request\n", name.c_str(), us);
  }
  return 0;
}

// Serving efficiency for the MLP: the raw engine (the server's own engine kind, core 0, 1 thread)
// against the server with the same fixed batch size, for each of `mlp_batches`. The server is
// pinned to core 0 with its HTTP thread, as in RunMlp; each batch size gets a fresh server.
int RunMlpEfficiency(const BenchOptions& o) {
  auto config = LoadModelConfig(o.models_dir + "/mlp_forecaster");
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  const EngineKind kind = config->engines.front().engine;
  std::printf(
      "mlp_forecaster (%s engine on core 0, 1 thread): raw engine vs server with the same fixed "
      "batch size, %d HTTP clients of 1 sample\n",
      std::string(EngineKindName(kind)).c_str(), o.mlp_clients);
  std::printf("%6s %16s %16s %10s %18s\n", "batch", "raw samples/s", "server samples/s",
              "server/raw", "server us/request");
  for (int batch : o.mlp_batches) {
    BenchOptions ob = o;
    ob.batch = batch;
    // The caller on the engine's core too: each Run hands the batch to the engine's pinned
    // worker, and from another core that hand-off wakes a halted vCPU (~70 us a Run at batch 1
    // on this KVM guest, more than the MLP itself); on one core it is a context switch.
    PinToCores(0, 0);
    auto raw = RawEngine::Create(ob, *config, kind);
    if (!raw) return 1;
    raw->SamplesPerS(o.warmup_s);
    const double raw_rate = raw->SamplesPerS(o.duration_s);
    raw.reset();
    PinToCores(0, LastCore());
    ServerProcess server(o,
                         {"--models", "mlp_forecaster", "--processors", "cpu:0", "--http-threads",
                          "1", "--batch-policy", "fixed", "--batch-size", std::to_string(batch)},
                         false, 0);
    if (!server.WaitReady()) return 1;
    const auto request = OneSampleRequest(server, "mlp_forecaster");
    if (!request) return 1;
    const LoadResult r = Drive(server, *request, o.mlp_clients, o.warmup_s, o.duration_s);
    std::printf("%6d %16.0f %16.0f %9.2f%% %18.1f  (%ld failed)\n", batch, raw_rate,
                r.requests_per_s, 100 * r.requests_per_s / raw_rate, r.server_cpu_us_per_request,
                static_cast<long>(r.failures));
    std::fflush(stdout);
  }
  return 0;
}

// The body of the MLP server's 200 answer to `request`.
std::optional<std::string> FetchResponseBody(ServerProcess& server,
                                             const EncodedInferRequest& request) {
  std::promise<std::pair<Status, HttpClientResponse>> answered;
  server.client().Send("POST", request.target,
                       {{"Content-Type", "application/octet-stream"},
                        {"Inference-Header-Content-Length", std::to_string(request.json_size)}},
                       request.body, [&](Status s, HttpClientResponse r) {
                         answered.set_value({std::move(s), std::move(r)});
                       });
  auto [s, r] = answered.get_future().get();
  if (!s.ok() || r.status != 200) {
    std::fprintf(stderr, "the MLP server did not answer: %s (HTTP %d)\n", s.ToString().c_str(),
                 r.status);
    return std::nullopt;
  }
  return std::move(r.body);
}

// The floor server's child: HttpServer on one Asio thread; every POST gets 200 with `body`,
// anything else 200 "{}" (the readiness poll). Runs until SIGTERM.
int ServeCanned(int port, const std::string& body, size_t json_size) {
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // before any thread: they all inherit it
  HttpServer::Options options;
  options.port = port;
  options.threads = 1;
  const std::string header_length = std::to_string(json_size);
  auto server = HttpServer::Create(options, [&](HttpRequest request, Responder respond) {
    if (request.method != "POST") return respond({200, "application/json", {}, "{}"});
    respond({200,
             "application/octet-stream",
             {{"Inference-Header-Content-Length", header_length}},
             body});
  });
  if (!server.ok()) return 1;
  (*server)->Start();
  int signal = 0;
  sigwait(&term, &signal);
  (*server)->Shutdown();
  return 0;
}

int RunHttpFloor(const BenchOptions& o) {
  std::optional<EncodedInferRequest> request;
  std::optional<std::string> canned;
  {
    ServerProcess mlp(
        o, {"--models", "mlp_forecaster", "--processors", "cpu:0", "--http-threads", "1"}, false,
        0);
    if (!mlp.WaitReady()) return 1;
    request = OneSampleRequest(mlp, "mlp_forecaster");
    if (!request) return 1;
    canned = FetchResponseBody(mlp, *request);
    if (!canned) return 1;
  }
  // Its Inference-Header-Content-Length carries the request's JSON length, not the response's:
  // the load generator does not read it, and it has as many digits, so the bytes on the wire are
  // the MLP server's.
  ServerProcess floor(o, [&](int port) { return ServeCanned(port, *canned, request->json_size); });
  if (!floor.WaitReady()) return 1;
  LoadResult r = Drive(floor, *request, o.mlp_clients, o.warmup_s, o.duration_s);
  std::printf(
      "http floor: HttpServer alone on core 0 answering the MLP's %zu-byte response, %d "
      "keep-alive clients, the MLP's %zu-byte binary request\n",
      canned->size(), o.mlp_clients, request->body->size());
  std::printf("requests/s %.0f, server CPU %.1f us/request (%ld failed)\n", r.requests_per_s,
              r.server_cpu_us_per_request, static_cast<long>(r.failures));
  return 0;
}

}  // namespace
}  // namespace batchwise

int main(int argc, char** argv) {
  batchwise::BenchOptions o;
  CLI::App app{
      "HTTP frontend benchmark: ResNet-18 through HTTP vs the raw engine; MLP server CPU "
      "per request"};
  app.add_option("--batchwise", o.batchwise, "the batchwise binary")->capture_default_str();
  app.add_option("--models-dir", o.models_dir, "model repository")->capture_default_str();
  app.add_option("--which", o.which, "resnet, mlp, mlp-efficiency, http-floor")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--batch", o.batch, "ResNet batch size (raw and server)")->capture_default_str();
  app.add_option("--resnet-clients", o.resnet_clients, "ResNet HTTP clients")
      ->capture_default_str();
  app.add_option("--mlp-clients", o.mlp_clients, "MLP HTTP clients")->capture_default_str();
  app.add_option("--mlp-batches", o.mlp_batches, "mlp-efficiency: batch sizes")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--warmup-s", o.warmup_s, "warm-up per measurement")->capture_default_str();
  app.add_option("--duration-s", o.duration_s, "measuring window")->capture_default_str();
  app.add_option("--rounds", o.rounds, "raw/HTTP alternations for ResNet")->capture_default_str();
  app.add_option("--port", o.port, "server port")->capture_default_str();
  app.add_flag("--frontend-off-core0", o.frontend_off_core0,
               "resnet: move the server's HTTP/batcher threads off the engine's core");
  app.add_flag("--raw-warmup-like-server", o.raw_warmup_like_server,
               "raw engine: first run the scheduler's warm-up (2 batches of 1 sample)");
  CLI11_PARSE(app, argc, argv);
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  int rc = 0;
  for (const auto& w : o.which) {
    rc |= w == "resnet"       ? batchwise::RunResnet(o)
          : w == "http-floor"     ? batchwise::RunHttpFloor(o)
          : w == "mlp-efficiency" ? batchwise::RunMlpEfficiency(o)
                              : batchwise::RunMlp(o);
  }
  return rc;
}
