#include "metrics/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <utility>

#include "common/thread_annotations.h"
#include "device/nvml.h"
#include "frontend/listen_check.h"
#include "serving/scheduler.h"

namespace batchwise {
namespace {

using nlohmann::json;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// The one list of metrics (name, type, help); docs/metrics.md repeats it.
const std::vector<MetricInfo> kCatalogue = {
    // Frontend, per request.
    {"batchwise_http_requests_total", "counter",
     "HTTP requests answered, by endpoint and status code"},
    {"batchwise_grpc_requests_total", "counter", "gRPC calls answered, by method and status code"},
    {"batchwise_inference_requests_total", "counter",
     "Inference requests of loaded models, by outcome (success, failure)"},
    {"batchwise_request_duration_seconds", "histogram",
     "Inference request duration in the frontend (decode, queue, compute, encode)"},
    // Scheduler statistics (Triton's statistics extension), read at scrape.
    {"batchwise_inference_count_total", "counter",
     "Samples inferred (a request of batch 4 counts 4)"},
    {"batchwise_execution_count_total", "counter", "Batches executed"},
    {"batchwise_request_success_total", "counter", "Requests completed successfully (scheduler)"},
    {"batchwise_request_failure_total", "counter",
     "Requests that failed after acceptance (scheduler)"},
    {"batchwise_queue_duration_seconds_total", "counter",
     "Total time requests waited in the queue"},
    {"batchwise_compute_input_duration_seconds_total", "counter",
     "Total time spent assembling batch inputs"},
    {"batchwise_compute_infer_duration_seconds_total", "counter",
     "Total time spent running the engine"},
    {"batchwise_compute_output_duration_seconds_total", "counter",
     "Total time spent splitting batch outputs"},
    {"batchwise_batch_executions_total", "counter", "Batches executed, by batch size"},
    // Batch controller, per instance.
    {"batchwise_controller_batch_size", "gauge", "The batch size the controller asks for now"},
    {"batchwise_controller_z", "gauge", "Mann-Kendall Z of the recent batch sizes (trend policy)"},
    {"batchwise_controller_settled", "gauge",
     "1 when the controller has settled on its batch size"},
    {"batchwise_queued_samples", "gauge", "Samples waiting in the instance's queue"},
    // Processors and placement.
    {"batchwise_processor_utilization", "gauge", "Processor utilisation in [0,1] (smoothed)"},
    {"batchwise_processor_memory_utilization", "gauge", "Processor memory utilisation in [0,1]"},
    {"batchwise_processor_memory_free_bytes", "gauge", "Free memory of the processor, bytes"},
    {"batchwise_processor_workload", "gauge",
     "Inference workload score (w_u*u + w_m*m + w_c*(1-P/Pmax))"},
    {"batchwise_processor_instances", "gauge", "Model instances on the processor"},
    {"batchwise_processor_performance", "gauge",
     "Profiled processing performance P, samples/s of the reference model"},
    {"batchwise_placement_decisions", "gauge", "Placement decisions in the kept history"},
    {"batchwise_placement_moves_total", "counter", "Re-placement moves carried out"},
    {"batchwise_rebalance_steps_total", "counter", "Steps of the re-placement loop"},
    // Triton's families: names, labels (model, version), types and units as Triton's
    // (docs/metrics.md says where they differ). Read at scrape from the same statistics.
    {"nv_inference_request_success", "counter",
     "Successful inference requests (a request counts 1 whatever its batch)"},
    {"nv_inference_request_failure", "counter",
     "Failed inference requests, by reason (REJECTED: refused or expired in the queue; BACKEND: "
     "the batch failed)"},
    {"nv_inference_count", "counter", "Inferences performed (a request of batch n counts n)"},
    {"nv_inference_exec_count", "counter", "Batches executed"},
    {"nv_inference_request_duration_us", "counter",
     "Cumulative end-to-end time of successful requests in the model (queue and compute), us"},
    {"nv_inference_queue_duration_us", "counter",
     "Cumulative time successful requests waited in the queue, us"},
    {"nv_inference_compute_input_duration_us", "counter",
     "Cumulative time requests spent in input preparation (each request counts its batch's), us"},
    {"nv_inference_compute_infer_duration_us", "counter",
     "Cumulative time requests spent in the engine (each request counts its batch's), us"},
    {"nv_inference_compute_output_duration_us", "counter",
     "Cumulative time requests spent in output splitting (each request counts its batch's), us"},
    {"nv_gpu_utilization", "gauge", "GPU utilisation in [0,1] (NVML)"},
    {"nv_gpu_memory_total_bytes", "gauge", "GPU memory, bytes (NVML)"},
    {"nv_gpu_memory_used_bytes", "gauge", "GPU memory in use, bytes (NVML)"},
};

const MetricInfo& Info(const std::string& name) {
  for (const auto& m : kCatalogue) {
    if (m.name == name) return m;
  }
  static const MetricInfo kUnknown{"", "", ""};
  return kUnknown;
}

// Families built at each scrape from JSON views.
class Families {
 public:
  void Add(const std::string& name, std::vector<ClientMetric::Label> labels, double value) {
    MetricFamily& f = families_[name];
    if (f.name.empty()) {
      const MetricInfo& info = Info(name);
      f.name = name;
      f.help = info.help;
      f.type = info.type == "counter" ? MetricType::Counter : MetricType::Gauge;
    }
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter)
      m.counter.value = value;
    else
      m.gauge.value = value;
    f.metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> Take() {
    std::vector<MetricFamily> out;
    for (auto& [name, f] : families_) out.push_back(std::move(f));
    return out;
  }

 private:
  std::map<std::string, MetricFamily> families_;
};

double Seconds(const json& stat) { return stat.value("ns", int64_t{0}) / 1e9; }

void AddStats(const json& s, Families& f) {
  const std::vector<ClientMetric::Label> model = {{"model", s.value("name", "")}};
  const json& i = s["inference_stats"];
  f.Add("batchwise_inference_count_total", model, s.value("inference_count", 0.0));
  f.Add("batchwise_execution_count_total", model, s.value("execution_count", 0.0));
  f.Add("batchwise_request_success_total", model, i["success"].value("count", 0.0));
  f.Add("batchwise_request_failure_total", model, i["fail"].value("count", 0.0));
  f.Add("batchwise_queue_duration_seconds_total", model, Seconds(i["queue"]));
  f.Add("batchwise_compute_input_duration_seconds_total", model, Seconds(i["compute_input"]));
  f.Add("batchwise_compute_infer_duration_seconds_total", model, Seconds(i["compute_infer"]));
  f.Add("batchwise_compute_output_duration_seconds_total", model, Seconds(i["compute_output"]));
  for (const json& b : s["batch_stats"]) {
    f.Add("batchwise_batch_executions_total",
          {model[0], {"batch_size", std::to_string(b.value("batch_size", 0))}},
          b["compute_infer"].value("count", 0.0));
  }
}

double Micros(const json& stat) { return stat.value("ns", int64_t{0}) / 1e3; }

// Triton's nv_inference_* families from the same statistics.
void AddTritonStats(const json& s, Families& f) {
  const std::vector<ClientMetric::Label> l = {{"model", s.value("name", "")},
                                              {"version", s.value("version", "")}};
  const json& i = s["inference_stats"];
  f.Add("nv_inference_request_success", l, i["success"].value("count", 0.0));
  for (const auto& [reason, count] : s["failure_reasons"].items()) {
    f.Add("nv_inference_request_failure", {l[0], l[1], {"reason", reason}}, count.get<double>());
  }
  f.Add("nv_inference_count", l, s.value("inference_count", 0.0));
  f.Add("nv_inference_exec_count", l, s.value("execution_count", 0.0));
  f.Add("nv_inference_request_duration_us", l, Micros(i["success"]));
  f.Add("nv_inference_queue_duration_us", l, Micros(i["queue"]));
  f.Add("nv_inference_compute_input_duration_us", l, Micros(i["compute_input"]));
  f.Add("nv_inference_compute_infer_duration_us", l, Micros(i["compute_infer"]));
  f.Add("nv_inference_compute_output_duration_us", l, Micros(i["compute_output"]));
}

void AddModel(const json& m, Families& f) {
  const std::string name = m.value("name", "");
  const json& processors = m["processors"];
  const json& batchers = m["batching"];
  for (size_t k = 0; k < batchers.size(); ++k) {
    const json& b = batchers[k];
    const std::string on = k < processors.size() ? processors[k].get<std::string>() : "";
    std::vector<ClientMetric::Label> l = {{"model", name}, {"processor", on}};
    f.Add("batchwise_controller_batch_size", l, b.value("batch_size", 0.0));
    f.Add("batchwise_controller_z", l, b.value("z", 0.0));
    f.Add("batchwise_controller_settled", l, b.value("settled", false) ? 1.0 : 0.0);
    f.Add("batchwise_queued_samples", l, b.value("queued_samples", 0.0));
  }
}

void AddProcessor(const json& p, Families& f) {
  std::vector<ClientMetric::Label> l = {
      {"processor", p.value("id", "")},
      {"kind", p.value("kind", "")},
      {"simulated", p.value("simulated", false) ? "true" : "false"}};
  f.Add("batchwise_processor_utilization", l, p.value("utilization", 0.0));
  f.Add("batchwise_processor_memory_utilization", l, p.value("memory_utilization", 0.0));
  f.Add("batchwise_processor_memory_free_bytes", l, p.value("memory_free_bytes", 0.0));
  f.Add("batchwise_processor_workload", l, p.value("workload", 0.0));
  f.Add("batchwise_processor_instances", l, p.value("instances", 0.0));
  f.Add("batchwise_processor_performance", l, p.value("performance", 0.0));
}

// NVML's GPUs; null when there is no driver (or no GPU).
GpuGaugeSource NvmlGauges() {
  auto nvml = NvmlLibrary::Load();
  if (!nvml.ok()) return nullptr;
  std::shared_ptr<const NvmlLibrary> lib = std::move(nvml).value();
  auto n = lib->DeviceCount();
  if (!n.ok() || *n == 0) return nullptr;
  return [lib, n = *n] {
    std::vector<GpuGauges> out;
    for (int i = 0; i < n; ++i) {
      auto uuid = lib->DeviceUuid(i);
      auto r = lib->Read(i);
      if (!uuid.ok() || !r.ok()) continue;  // a GPU that cannot be read now is left out
      out.push_back({*uuid, r->utilization, r->memory_used_bytes, r->memory_total_bytes});
    }
    return out;
  };
}

// The nv_gpu_* gauges, read at each scrape.
class GpuCollector final : public prometheus::Collectable {
 public:
  explicit GpuCollector(GpuGaugeSource source) : source_(std::move(source)) {}

  std::vector<MetricFamily> Collect() const override {
    if (!source_) return {};
    Families f;
    for (const GpuGauges& g : source_()) {
      const std::vector<ClientMetric::Label> l = {{"gpu_uuid", g.uuid}};
      f.Add("nv_gpu_utilization", l, g.utilization);
      f.Add("nv_gpu_memory_total_bytes", l, static_cast<double>(g.memory_total_bytes));
      f.Add("nv_gpu_memory_used_bytes", l, static_cast<double>(g.memory_used_bytes));
    }
    return f.Take();
  }

 private:
  const GpuGaugeSource source_;  // thread-safe to call (NVML is)
};

}  // namespace

const std::vector<MetricInfo>& MetricCatalogue() { return kCatalogue; }

// Reads the scheduler's views at each scrape.
class SchedulerCollector final : public prometheus::Collectable {
 public:
  void Attach(const Scheduler* s) {
    std::lock_guard<std::mutex> l(mu_);
    scheduler_ = s;
  }

  std::vector<MetricFamily> Collect() const override {
    std::lock_guard<std::mutex> l(mu_);
    if (scheduler_ == nullptr) return {};
    Families f;
    auto stats = scheduler_->StatsJson();
    if (stats.ok()) {
      for (const json& s : (*stats)["model_stats"]) {
        AddStats(s, f);
        AddTritonStats(s, f);
      }
    }
    for (const json& m : scheduler_->ModelsJson()) AddModel(m, f);
    for (const json& p : scheduler_->ProcessorsJson()) AddProcessor(p, f);
    f.Add("batchwise_placement_decisions", {}, static_cast<double>(scheduler_->Decisions().size()));
    CountMoves(f);
    f.Add("batchwise_rebalance_steps_total", {},
          static_cast<double>(scheduler_->rebalance_steps()));
    return f.Take();
  }

 private:
  // Moves are kept in a bounded history: count the ones newer than the last seen.
  void CountMoves(Families& f) const REQUIRES(mu_) {
    for (const MoveRecord& m : scheduler_->Moves()) {
      if (m.at > last_move_) {
        last_move_ = m.at;
        if (m.done) ++moves_done_;
      }
    }
    f.Add("batchwise_placement_moves_total", {}, static_cast<double>(moves_done_));
  }

  mutable std::mutex mu_;
  const Scheduler* scheduler_ GUARDED_BY(mu_) = nullptr;
  mutable TimePoint last_move_ GUARDED_BY(mu_){};
  mutable int64_t moves_done_ GUARDED_BY(mu_) = 0;
};

struct ServerMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<SchedulerCollector> collector = std::make_shared<SchedulerCollector>();
  std::shared_ptr<GpuCollector> gpus;
  prometheus::Family<prometheus::Counter>* http = nullptr;
  prometheus::Family<prometheus::Counter>* grpc = nullptr;
  prometheus::Family<prometheus::Counter>* infer = nullptr;
  prometheus::Family<prometheus::Histogram>* duration = nullptr;
  std::unique_ptr<prometheus::Exposer> exposer;
  int port = -1;

  // The per-request series, looked up once: Family::Add builds a label map, hashes it and locks
  // the family on every call, which cost more than the rest of recording. Series are never
  // removed, so the pointers stay valid.
  struct ModelSeries {
    prometheus::Counter* success;
    prometheus::Counter* failure;
    prometheus::Histogram* duration;
  };
  std::mutex mu;
  std::unordered_map<std::string, ModelSeries> models GUARDED_BY(mu);
  std::map<std::pair<std::string, int>, prometheus::Counter*> endpoints GUARDED_BY(mu);
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> methods GUARDED_BY(mu);
};

Result<std::unique_ptr<ServerMetrics>> ServerMetrics::Create(const Options& options) {
  auto impl = std::make_unique<Impl>();
  auto family = [&](const char* name) {
    return &prometheus::BuildCounter().Name(name).Help(Info(name).help).Register(*impl->registry);
  };
  impl->http = family("batchwise_http_requests_total");
  impl->grpc = family("batchwise_grpc_requests_total");
  impl->infer = family("batchwise_inference_requests_total");
  impl->duration = &prometheus::BuildHistogram()
                        .Name("batchwise_request_duration_seconds")
                        .Help(Info("batchwise_request_duration_seconds").help)
                        .Register(*impl->registry);
  impl->gpus = std::make_shared<GpuCollector>(options.gpus ? options.gpus : NvmlGauges());
  if (options.port >= 0) {
    // civetweb reports a taken port only as "null context when constructing CivetServer".
    BW_RETURN_IF_ERROR(CheckCanListen(options.host, options.port, options.port_flag));
    try {
      impl->exposer = std::make_unique<prometheus::Exposer>(
          options.host + ":" + std::to_string(options.port), 2);
    } catch (const std::exception& e) {
      return ListenError(options.host, options.port, options.port_flag, e.what());
    }
    impl->exposer->RegisterCollectable(impl->registry);
    impl->exposer->RegisterCollectable(impl->collector);
    impl->exposer->RegisterCollectable(impl->gpus);
    auto ports = impl->exposer->GetListeningPorts();
    impl->port = ports.empty() ? -1 : ports[0];
  }
  return std::unique_ptr<ServerMetrics>(new ServerMetrics(std::move(impl)));
}

ServerMetrics::ServerMetrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ServerMetrics::~ServerMetrics() {
  impl_->exposer.reset();  // no scrape runs past here
  impl_->collector->Attach(nullptr);
}

void ServerMetrics::Attach(const Scheduler* scheduler) { impl_->collector->Attach(scheduler); }

void ServerMetrics::RecordHttp(const std::string& endpoint, int http_status) {
  prometheus::Counter* counter;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    auto key = std::make_pair(endpoint, http_status);
    auto it = impl_->endpoints.find(key);
    if (it == impl_->endpoints.end()) {
      auto& c = impl_->http->Add({{"endpoint", endpoint}, {"code", std::to_string(http_status)}});
      it = impl_->endpoints.emplace(std::move(key), &c).first;
    }
    counter = it->second;
  }
  counter->Increment();
}

void ServerMetrics::RecordGrpc(const std::string& method, const std::string& code) {
  prometheus::Counter* counter;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    auto key = std::make_pair(method, code);
    auto it = impl_->methods.find(key);
    if (it == impl_->methods.end()) {
      auto& c = impl_->grpc->Add({{"method", method}, {"code", code}});
      it = impl_->methods.emplace(std::move(key), &c).first;
    }
    counter = it->second;
  }
  counter->Increment();
}

void ServerMetrics::RecordInfer(const std::string& model, bool ok, Duration duration) {
  Impl::ModelSeries series;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    auto it = impl_->models.find(model);
    if (it == impl_->models.end()) {
      static const prometheus::Histogram::BucketBoundaries kBuckets = {
          0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};
      Impl::ModelSeries added{&impl_->infer->Add({{"model", model}, {"outcome", "success"}}),
                              &impl_->infer->Add({{"model", model}, {"outcome", "failure"}}),
                              &impl_->duration->Add({{"model", model}}, kBuckets)};
      it = impl_->models.emplace(model, added).first;
    }
    series = it->second;
  }
  (ok ? series.success : series.failure)->Increment();
  series.duration->Observe(std::chrono::duration<double>(duration).count());
}

std::string ServerMetrics::Scrape() const {
  auto families = impl_->registry->Collect();
  for (auto& f : impl_->collector->Collect()) families.push_back(std::move(f));
  for (auto& f : impl_->gpus->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

int ServerMetrics::port() const { return impl_->port; }

}  // namespace batchwise
