// `batchwise --version` and `batchwise version`, run as a user runs them: the version is the one
// server metadata reports, with the build type and the engines compiled in.
#include "common/version.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "service/inference_service.h"

namespace batchwise {
namespace {

// stdout of `batchwise <args>`; `rc` its exit status.
std::string RunCli(const std::string& args, int& rc) {
  FILE* p = ::popen(
      ("ASAN_OPTIONS=detect_leaks=0 " + std::string(BATCHWISE_CLI) + " " + args + " 2>/dev/null")
          .c_str(),
      "r");
  std::string out;
  char buf[1024];
  for (size_t n; p != nullptr && (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  rc = p != nullptr ? ::pclose(p) : -1;
  return out;
}

TEST(VersionTest, FlagAndSubcommandPrintTheServerMetadataVersionAndTheBuild) {
  if (!std::filesystem::exists(BATCHWISE_CLI)) GTEST_SKIP() << "the CLI is not built";
  const std::string metadata_version = InferenceService::Options{}.server_version;
  EXPECT_EQ(metadata_version, ServerVersion());
  for (const char* args : {"--version", "version"}) {
    int rc = -1;
    const std::string out = RunCli(args, rc);
    EXPECT_EQ(rc, 0) << args;
    EXPECT_EQ(out.rfind("batchwise " + metadata_version + "\n", 0), 0u) << out;
    EXPECT_NE(out.find(std::string("build: ") + BuildType() + "\n"), std::string::npos) << out;
    EXPECT_NE(out.find("engines: onnx (OpenCV DNN "), std::string::npos) << out;
    EXPECT_NE(out.find("torchscript (libtorch "), std::string::npos) << out;
#ifdef BATCHWISE_WITH_CUDA
    EXPECT_NE(out.find("cuda: on"), std::string::npos) << out;
#else
    EXPECT_NE(out.find("cuda: off"), std::string::npos) << out;
#endif
  }
}

}  // namespace
}  // namespace batchwise
