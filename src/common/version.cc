#include "common/version.h"

#ifndef BATCHWISE_VERSION
#error "CMakeLists.txt defines BATCHWISE_VERSION for this file"
#endif

namespace batchwise {

const char* ServerVersion() { return BATCHWISE_VERSION; }

const char* BuildType() {
  constexpr const char* kType = BATCHWISE_BUILD_TYPE;
  return kType[0] != '\0' ? kType : "unspecified";
}

}  // namespace batchwise
