#include "loadgen/kserve_load.h"

#include <condition_variable>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "common/tensor.h"

namespace batchwise {

using json = nlohmann::json;

namespace {

// Seeded element values: standard normal for floats (FP16 as its bit pattern of small values),
// small non-negative integers otherwise, so any model's input domain is plausible.
void Fill(DataType t, std::span<std::byte> out, std::mt19937_64& rng) {
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> small(0, 9);
  const size_t n = out.size() / DataTypeSize(t);
  for (size_t i = 0; i < n; ++i) {
    std::byte* p = out.data() + i * DataTypeSize(t);
    switch (t) {
      case DataType::kFp32: {
        float v = normal(rng);
        std::memcpy(p, &v, 4);
        break;
      }
      case DataType::kFp64: {
        double v = normal(rng);
        std::memcpy(p, &v, 8);
        break;
      }
      case DataType::kFp16: {
        uint16_t v = static_cast<uint16_t>(0x3000 + small(rng) * 0x100);  // 0.125 .. 0.7
        std::memcpy(p, &v, 2);
        break;
      }
      case DataType::kBool:
        *p = std::byte(small(rng) % 2);
        break;
      default: {  // integers, little-endian: the low byte carries the value
        std::memset(p, 0, DataTypeSize(t));
        *p = std::byte(small(rng));
      }
    }
  }
}

}  // namespace

Result<EncodedInferRequest> BuildInferRequest(const json& metadata, int batch, uint64_t seed) {
  if (batch < 1) return InvalidArgument("batch must be >= 1");
  if (!metadata.is_object() || !metadata.contains("name") || !metadata["name"].is_string() ||
      !metadata.contains("inputs") || !metadata["inputs"].is_array()) {
    return InvalidArgument("model metadata lacks name or inputs");
  }
  std::mt19937_64 rng(seed);
  json inputs = json::array();
  std::string data;
  for (const json& in : metadata["inputs"]) {
    if (!in.contains("name") || !in.contains("datatype") || !in.contains("shape")) {
      return InvalidArgument("model input metadata lacks name, datatype or shape");
    }
    const std::string name = in["name"].get<std::string>();
    BW_ASSIGN_OR_RETURN(DataType t, ParseDataType(in["datatype"].get<std::string>()));
    if (t == DataType::kBytes) {
      return InvalidArgument("input '" + name +
                             "' is BYTES: the load generator sends only "
                             "fixed-size datatypes");
    }
    Shape shape = in["shape"].get<Shape>();
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] < 0) shape[d] = d == 0 ? batch : 1;
    }
    const size_t bytes = static_cast<size_t>(ElementCount(shape)) * DataTypeSize(t);
    const size_t at = data.size();
    data.resize(at + bytes);
    Fill(t, {reinterpret_cast<std::byte*>(data.data()) + at, bytes}, rng);
    inputs.push_back({{"name", name},
                      {"datatype", DataTypeName(t)},
                      {"shape", shape},
                      {"parameters", {{"binary_data_size", bytes}}}});
  }
  std::string header =
      json{{"inputs", inputs}, {"parameters", {{"binary_data_output", true}}}}.dump();
  EncodedInferRequest r;
  r.target = "/v2/models/" + metadata["name"].get<std::string>() + "/infer";
  r.json_size = header.size();
  r.body = std::make_shared<const std::string>(header + data);
  return r;
}

Result<EncodedInferRequest> PrepareInferRequest(HttpClient& client, const std::string& model,
                                                int batch, uint64_t seed) {
  const std::string target = "/v2/models/" + model;
  auto fetched = client.Fetch("GET", target);
  if (!fetched.ok()) return fetched.status().WithContext("GET " + target);
  const HttpClientResponse& r = *fetched;
  BW_RETURN_IF_ERROR(StatusFromHttpResponse(r).WithContext("metadata of '" + model + "'"));
  json metadata = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (metadata.is_discarded()) return InvalidArgument("metadata of '" + model + "' is not JSON");
  return BuildInferRequest(metadata, batch, seed);
}

SendFn InferSender(HttpClient& client, EncodedInferRequest request) {
  auto shared = std::make_shared<const EncodedInferRequest>(std::move(request));
  return [&client, shared](uint64_t, std::function<void(Status)> done) {
    client.Send("POST", shared->target,
                {{"Content-Type", "application/octet-stream"},
                 {"Inference-Header-Content-Length", std::to_string(shared->json_size)}},
                shared->body, [done = std::move(done)](Status s, HttpClientResponse r) {
                  done(s.ok() ? StatusFromHttpResponse(r) : s);
                });
  };
}

void LoadTimeSeries::Record(TimePoint intended, TimePoint done, const Status& s) {
  if (intended < start_) return;
  const size_t i = static_cast<size_t>((intended - start_) / window_);
  std::lock_guard<std::mutex> l(mu_);
  while (windows_.size() <= i) {
    Window w;
    w.t_s = std::chrono::duration<double>(window_ * windows_.size()).count();
    windows_.push_back(std::move(w));
  }
  Window& w = windows_[i];
  if (!s.ok()) {
    ++w.errors;
    return;
  }
  ++w.ok;
  w.latency.Record(done - intended);
  if (done - intended <= slo_) ++w.within_slo;
}

std::vector<LoadTimeSeries::Window> LoadTimeSeries::Take() const {
  std::lock_guard<std::mutex> l(mu_);
  return windows_;
}

ControllerPoller::ControllerPoller(Clock& clock, HttpClient& client, TimePoint start,
                                   Duration period)
    : clock_(clock), client_(client), start_(start) {
  thread_ = std::jthread([this, period](std::stop_token st) {
    std::mutex mu;
    std::condition_variable cv;
    std::stop_callback wake(st, [&] {
      std::lock_guard<std::mutex> l(mu);
      cv.notify_all();
    });
    TimePoint next = clock_.Now();
    while (!st.stop_requested()) {
      PollOnce();
      next += period;
      std::unique_lock<std::mutex> l(mu);
      while (!st.stop_requested() && !clock_.WaitUntil(l, cv, next)) {
      }
    }
  });
}

void ControllerPoller::Stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void ControllerPoller::PollOnce() {
  const double t = std::chrono::duration<double>(clock_.Now() - start_).count();
  auto r = client_.Fetch("GET", "/v2/batchwise/models");
  if (!r.ok() || !StatusFromHttpResponse(*r).ok()) return;  // a gap in the series, not an error
  json body = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("models") || !body["models"].is_array()) return;
  const json& models = body["models"];
  std::lock_guard<std::mutex> l(mu_);
  for (const json& m : models) {
    if (!m.contains("batching") || !m["batching"].is_array()) continue;
    for (const json& b : m["batching"]) {  // one entry per instance's batcher
      samples_.push_back({t, m.value("name", ""), b.value("batch_size", 0),
                          b.value("settled", false), b.value("z", 0.0),
                          b.value("queued_samples", int64_t{0}),
                          b.value("direction_changes", int64_t{0})});
    }
  }
}

std::vector<ControllerPoller::Sample> ControllerPoller::samples() const {
  std::lock_guard<std::mutex> l(mu_);
  return samples_;
}

}  // namespace batchwise
