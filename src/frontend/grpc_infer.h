// The inference RPCs of GrpcServer: the steps ModelInfer and ModelStreamInfer share (parse,
// check, decode, submit, count) and ModelStreamInfer's reactor. docs/grpc-api.md describes both.
//
// Thread-safety: the functions are called from gRPC's threads; the `done` callbacks run on a
// batching thread. The service must outlive every call (GrpcServer::Shutdown() waits for them).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "grpc_service.pb.h"

namespace batchwise {

class InferenceService;

namespace grpc_infer {

// `raw` parsed as a ModelInferRequest (an empty message is a valid, empty request); a malformed
// message is an INVALID_ARGUMENT that says so.
Status ParseInferRequest(const grpc::ByteBuffer& raw, inference::ModelInferRequest& out);

// Called once with a submitted request's outcome and, when it is OK, its encoded response.
using InferDone = std::function<void(Status, inference::ModelInferResponse&)>;

// Checks the request's model and version, decodes it (its raw contents are moved out, not
// copied) and hands it to the scheduler. `done` is called exactly once, on a batching thread,
// iff this returns OK; otherwise the answer is the request's error (NOT_FOUND, INVALID_ARGUMENT,
// UNAVAILABLE for a full queue, ...).
Status SubmitInfer(InferenceService& service, inference::ModelInferRequest& request, InferDone done);

// Counts one inference RPC's outcome: the per-model series (as HTTP's) and the gRPC call counter
// of `method`.
void RecordOutcome(InferenceService& service, const char* method, const std::string& model,
                   const Status& outcome, TimePoint start);

// The reactor of one ModelStreamInfer call (requests and responses as raw messages, so a
// malformed request is an error for that request, not the end of the stream). Each request is
// submitted as ModelInfer's; its response, or its error in `error_message` (with the request's
// id and model in `infer_response`), is written when it is ready, in completion order. The stream
// ends OK once the client has half-closed and every response is written; a cancelled call ends
// without waiting for the requests in flight, whose answers are dropped. The reactor deletes
// itself once gRPC is done with the call and no request of it is in flight.
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewStreamInferReactor(
    InferenceService& service);

}  // namespace grpc_infer
}  // namespace batchwise
