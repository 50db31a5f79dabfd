// loadgen_capacity: how fast `batchwise bench`'s load generator can drive a server while staying
// open loop. The server is this project's HTTP transport with a trivial model: a handler that
// answers every infer request at once with a canned binary KServe response (no batching, no
// engine), so what limits the rate is the generator (and the loopback), not the model.
// The server's threads run on the last core, the generator on core 0. For each offered Poisson
// rate: answered/s, the share of requests sent more than 1 ms after their intended time, and the
// latency counted from the intended time, and the generator's own CPU time per request (all its
// threads: the driver and the client's I/O thread, told from the server's by their core).
#include <dirent.h>
#include <sched.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "frontend/http_server.h"
#include "loadgen/arrivals.h"
#include "loadgen/driver.h"
#include "loadgen/kserve_load.h"
#include "proc_cpu.h"

namespace batchwise {
namespace {

void PinTo(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

// utime + stime, in seconds, of this process's threads allowed on `core` alone.
double CpuSecondsOfThreadsOn(int core) {
  double seconds = 0;
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return 0;
  while (dirent* e = readdir(dir)) {
    const int tid = std::atoi(e->d_name);
    cpu_set_t set;
    if (tid <= 0 || sched_getaffinity(tid, sizeof(set), &set) != 0) continue;
    if (CPU_COUNT(&set) != 1 || !CPU_ISSET(core, &set)) continue;
    seconds += StatCpuSeconds("/proc/self/task/" + std::string(e->d_name) + "/stat");
  }
  closedir(dir);
  return seconds;
}

// The trivial model: metadata of an MLP-shaped input, every infer answered with 24 zero floats.
HttpHandler TrivialModel() {
  const std::string metadata =
      R"({"name":"trivial","versions":["1"],"platform":"trivial",)"
      R"("inputs":[{"name":"features","datatype":"FP32","shape":[-1,48]}],)"
      R"("outputs":[{"name":"y","datatype":"FP32","shape":[-1,24]}]})";
  const std::string header =
      R"({"model_name":"trivial","outputs":[{"name":"y","datatype":"FP32","shape":[1,24],)"
      R"("parameters":{"binary_data_size":96}}]})";
  const std::string body = header + std::string(96, '\0');
  return [=](HttpRequest req, Responder respond) {
    HttpResponse r;
    if (req.method == "GET") {
      r.body = metadata;
    } else {
      r.content_type = "application/octet-stream";
      r.headers = {{"Inference-Header-Content-Length", std::to_string(header.size())}};
      r.body = body;
    }
    respond(std::move(r));
  };
}

int Run(const std::vector<double>& rates, double duration_s, int client_threads) {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  PinTo(cores - 1);  // the server's threads inherit this
  HttpServer::Options so;
  so.port = 0;
  so.threads = 1;
  auto server = HttpServer::Create(so, TrivialModel());
  if (!server.ok()) return std::fprintf(stderr, "%s\n", server.status().ToString().c_str()), 1;
  (*server)->Start();
  PinTo(0);  // the generator and its client threads
  HttpClient::Options co;
  co.port = (*server)->port();
  co.threads = client_threads;
  auto client = HttpClient::Create(co);
  if (!client.ok()) return std::fprintf(stderr, "%s\n", client.status().ToString().c_str()), 1;
  auto request = PrepareInferRequest(**client, "trivial", 1, 1);
  if (!request.ok()) return std::fprintf(stderr, "%s\n", request.status().ToString().c_str()), 1;

  std::printf(
      "trivial model on core %d, generator on core 0 (%d client thread(s)), Poisson, %.0f s "
      "per rate after 1 s warm-up\n",
      cores - 1, client_threads, duration_s);
  std::printf("%10s %10s %9s %9s %9s %9s %9s %8s %10s %9s\n", "offered/s", "answered/s",
              "answered", "late>1ms", "p50 ms", "p99 ms", "p99.9 ms", "errors", "gen us/req",
              "gen core");
  auto ms = [](Duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  for (double rate : rates) {
    ArrivalGenerator arrivals(
        RateSchedule::Constant(
            std::chrono::duration_cast<Duration>(std::chrono::duration<double>(duration_s + 1)),
            rate),
        ArrivalProcess::kPoisson, 7);
    DriverOptions o;
    o.warmup = std::chrono::seconds(1);
    const double cpu0 = CpuSecondsOfThreadsOn(0);
    const auto wall0 = std::chrono::steady_clock::now();
    OpenLoopResult r = RunOpenLoop(SystemClock(), arrivals, InferSender(**client, *request), o);
    const double cpu = CpuSecondsOfThreadsOn(0) - cpu0;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    const LoadReport& t = r.total;
    uint64_t errors = t.not_sent;
    for (const auto& [k, v] : t.errors) errors += v;
    // Warm-up included on both sides of the ratio: every request sent costs generator time.
    const double per_request_us = 1e6 * cpu / std::max(1.0, rate * wall);
    std::printf("%10.0f %10.1f %8.1f%% %8.2f%% %9.2f %9.2f %9.2f %8llu %10.1f %8.0f%%\n", rate,
                t.throughput_per_s(), 100.0 * t.ok / std::max<uint64_t>(1, t.sent),
                100.0 * t.sent_late / std::max<uint64_t>(1, t.sent), ms(t.latency.Percentile(50)),
                ms(t.latency.Percentile(99)), ms(t.latency.Percentile(99.9)),
                static_cast<unsigned long long>(errors), per_request_us, 100 * cpu / wall);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace batchwise

int main(int argc, char** argv) {
  CLI::App app{"Load-generator capacity against a trivial model"};
  std::vector<double> rates = {1000, 2000, 4000, 6000, 8000, 10000};
  double duration_s = 5;
  int client_threads = 1;
  app.add_option("--rates", rates, "Offered rates, requests/s")->delimiter(',');
  app.add_option("--duration-s", duration_s, "Measured seconds per rate")->capture_default_str();
  app.add_option("--client-threads", client_threads, "HTTP client threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return batchwise::Run(rates, duration_s, client_threads);
}
