// The shared-memory extension's HTTP routes (Triton's): /v2/systemsharedmemory/... over a
// SharedMemoryRegistry, and /v2/cudasharedmemory/... refused with 501 and the reason. The
// InferenceService hands every request under either prefix here; docs/http-api.md#shared-memory.
//
// Pure function of its arguments and the registry (thread-safe as the registry is).
#pragma once

#include <optional>

#include "frontend/http_server.h"
#include "service/shared_memory.h"

namespace batchwise {

// The answer to `request` when its path is under /v2/systemsharedmemory or /v2/cudasharedmemory,
// else nullopt (not a shared-memory route).
std::optional<HttpResponse> HandleSharedMemoryRoute(SharedMemoryRegistry& registry,
                                                    const HttpRequest& request);

// Why CUDA shared memory is refused, for both protocols' answers.
extern const char kCudaSharedMemoryUnsupported[];

}  // namespace batchwise
