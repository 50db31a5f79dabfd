// Listening ports: the one-line error for a port that cannot be taken, naming the flag that set it
// ("cannot listen on 0.0.0.0:8002 (--metrics-port): address already in use"), and a check before
// handing a port to a listener that reports a taken port only through its own logs or exceptions
// (gRPC logs an internal error tree, civetweb throws "null context when constructing CivetServer").
// Stateless; thread-safe.
#pragma once

#include <string>

#include "common/status.h"

namespace batchwise {

// UNAVAILABLE: "cannot listen on <host>:<port> (<flag>): <why>".
Status ListenError(const std::string& host, int port, const std::string& flag,
                   const std::string& why);

// OK when <host>:<port> can be bound now (port 0 always can); else ListenError with the reason.
// Binds a probe socket to each address `host` resolves to and closes it again.
Status CheckCanListen(const std::string& host, int port, const std::string& flag);

}  // namespace batchwise
