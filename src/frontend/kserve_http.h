// KServeHttp: the KServe v2 REST adapter over the InferenceService — health, server and model
// metadata, inference (JSON and binary tensors), and the Triton extensions existing clients rely
// on (model configuration, statistics, model repository), plus Batchwise's own views under
// /v2/batchwise/. Routes requests from HttpServer and only translates: each route parses its path
// and body, calls the service, and encodes the answer in JSON; docs/http-api.md lists every
// endpoint.
//
// Thread-safe: Handle() from any Asio thread. Inference is asynchronous (no thread waits for a
// request in flight: the scheduler's callback answers through the Responder, whose encoding runs
// on the connection's strand). Repository load/unload run on the service's admin thread.
// The service must outlive the adapter.
#pragma once

#include <optional>
#include <string>

#include "frontend/http_server.h"
#include "service/inference_service.h"

namespace batchwise {

class KServeHttp {
 public:
  explicit KServeHttp(InferenceService& service) : service_(service) {}
  KServeHttp(const KServeHttp&) = delete;
  KServeHttp& operator=(const KServeHttp&) = delete;

  void Handle(HttpRequest request, Responder respond);

  // HttpServer's early handler: an inference request whose client waits for "100 Continue" is
  // refused from its header (503, counted as every refusal) when its model's queue already holds
  // more than the latency target's worth of work (InferenceService::AdmitBeforeBody), so the
  // client learns it without uploading its tensors. Anything else: nullopt (read as usual).
  std::optional<HttpResponse> BeforeBody(const HttpRequest& head) const;

  struct Route;

 private:
  HttpResponse Dispatch(const Route& route, const HttpRequest& request, const Responder& respond,
                        bool& answered);
  void Infer(const std::string& model, const HttpRequest& request, const Responder& respond);
  void Repository(const Route& route, const HttpRequest& request, const Responder& respond);
  HttpResponse ServerMetadata() const;
  HttpResponse ModelMetadata(const std::string& model) const;
  HttpResponse ModelReady(const std::string& model) const;
  HttpResponse ModelConfigJson(const std::string& model) const;
  HttpResponse Stats(const std::string& model) const;
  HttpResponse RepositoryIndexRoute(const HttpRequest& request) const;
  HttpResponse BatchwiseView(const std::string& view, const HttpRequest& request) const;
  // Counts the answer under `endpoint` (a metrics label) and sends it.
  void Answer(const Responder& respond, const std::string& endpoint, HttpResponse response) const;

  InferenceService& service_;
};

}  // namespace batchwise
