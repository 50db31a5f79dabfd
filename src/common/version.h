// What this binary is: the server's version (CMake's project version, the one server metadata
// reports) and the build it came from. Constants; thread-safe.
#pragma once

namespace batchwise {

// "0.1.0".
const char* ServerVersion();
// CMake's build type ("Release", "RelWithDebInfo", ...; "unspecified" when none was given).
const char* BuildType();

}  // namespace batchwise
