#include "device/discovery.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(NvmlLibraryTest, AbsentLibraryIsNotFound) {
  auto got = NvmlLibrary::Load("libnvidia-ml-does-not-exist.so.1");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find("libnvidia-ml-does-not-exist.so.1"), std::string::npos);
}

TEST(NvmlLibraryTest, LibraryWithoutNvmlSymbolsIsUnavailable) {
  auto got = NvmlLibrary::Load("libm.so.6");  // opens, but is not NVML
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status();
}

TEST(DiscoverProcessorsTest, AbsentNvmlOffersNoGpuAndIsNotAnError) {
  DiscoveryOptions options;
  options.nvml_library = "libnvidia-ml-does-not-exist.so.1";
  auto got = DiscoverProcessors(options);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->processors.size(), 1u);
  EXPECT_EQ(got->processors[0].id, "cpu");
  EXPECT_EQ(got->nvml, nullptr);
  EXPECT_NE(got->gpu_note.find("cannot load"), std::string::npos) << got->gpu_note;
}

TEST(DiscoverProcessorsTest, CombinesCpuPartitionsAndSimulatedProcessors) {
  DiscoveryOptions options;
  options.cpu_spec = "cpu/1";
  options.nvml_library = "";
  options.simulated_path = std::string(BATCHWISE_SOURCE_DIR) + "/data/processors/simulated.json";
  auto got = DiscoverProcessors(options);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->processors.size(), 3u);
  EXPECT_EQ(got->processors[0].id.rfind("cpu:0", 0), 0u);
  EXPECT_EQ(got->processors[1].id, "sim:a100");
  EXPECT_EQ(got->processors[2].id, "sim:npu0");
}

TEST(DiscoverProcessorsTest, BadCpuSpecIsAnError) {
  DiscoveryOptions options;
  options.cpu_spec = "cpu/999";
  EXPECT_EQ(DiscoverProcessors(options).status().code(), StatusCode::kInvalidArgument);
}

TEST(DiscoverProcessorsTest, RealGpusWhenThisMachineHasThem) {
  auto got = DiscoverProcessors({});
  ASSERT_TRUE(got.ok()) << got.status();
  for (const Processor& p : got->processors) {
    if (p.kind != ProcessorKind::kGpu) continue;
    EXPECT_EQ(p.id.rfind("gpu:", 0), 0u);
    EXPECT_GT(p.memory_bytes, 0u);
    EXPECT_EQ(p.signature.rfind("gpu|", 0), 0u);
  }
  if (got->nvml == nullptr) EXPECT_FALSE(got->gpu_note.empty());
}

}  // namespace
}  // namespace batchwise
