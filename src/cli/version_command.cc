// `batchwise --version` and `batchwise version`: the server's version (as server metadata reports
// it), the build type and the engines and GPU support compiled in.
#include <torch/version.h>

#include <cstdio>
#include <opencv2/core/version.hpp>

#include "cli/commands.h"
#include "common/version.h"

namespace batchwise::cli {

std::string VersionText() {
#ifdef BATCHWISE_WITH_CUDA
  const char* cuda = "on (TorchScript engine on CUDA devices)";
#else
  const char* cuda = "off (built without -DBATCHWISE_WITH_CUDA=ON)";
#endif
  return std::string("batchwise ") + ServerVersion() + "\nbuild: " + BuildType() +
         "\nengines: onnx (OpenCV DNN " CV_VERSION "), torchscript (libtorch " TORCH_VERSION
         "), simulated\ncuda: " +
         cuda;
}

Command AddVersionCommand(CLI::App& app) {
  app.add_subcommand("version", "Print the version, build type and the engines compiled in");
  return [] {
    std::printf("%s\n", VersionText().c_str());
    return 0;
  };
}

}  // namespace batchwise::cli
