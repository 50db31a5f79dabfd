#include "service/shared_memory.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "service/testing/shm_object.h"

namespace batchwise {
namespace {

using testing::ShmObject;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(SharedMemoryRegistryTest, RegisteredWindowIsTheObjectsBytesInPlace) {
  ShmObject shm(4096);
  ASSERT_TRUE(shm.ok());
  for (int i = 0; i < 256; ++i) shm.data()[i] = static_cast<std::byte>(i);
  SharedMemoryRegistry registry;
  ASSERT_TRUE(registry.Register("r", shm.key(), 16, 64).ok());
  auto block = registry.Find({"r", 8, 4}, "input 'x'");
  ASSERT_TRUE(block.ok()) << block.status().message();
  EXPECT_EQ(block->bytes.size(), 8u);
  EXPECT_EQ(block->bytes[0], std::byte{20});  // region offset 16 + window offset 4
  block->bytes[1] = std::byte{0xAB};          // a write shows in the client's mapping
  EXPECT_EQ(shm.data()[21], std::byte{0xAB});
  auto listed = registry.List("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "r");
  EXPECT_EQ((*listed)[0].key, shm.key());
  EXPECT_EQ((*listed)[0].offset, 16u);
  EXPECT_EQ((*listed)[0].byte_size, 64u);
}

TEST(SharedMemoryRegistryTest, RegisterErrorsSayWhatIsWrong) {
  ShmObject shm(256);
  ASSERT_TRUE(shm.ok());
  SharedMemoryRegistry registry;
  EXPECT_EQ(registry.Register("r", "/batchwise_no_such_key", 0, 8).code(), StatusCode::kNotFound);
  EXPECT_EQ(registry.Register("", shm.key(), 0, 8).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register("r", "", 0, 8).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register("r", shm.key(), 0, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register("r", shm.key(), 200, 57).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register("r", shm.key(), kMax, 2).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Register("r", shm.key(), 2, kMax).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.Register("r", shm.key(), 200, 56).ok());  // exactly to the end
  EXPECT_EQ(registry.Register("r", shm.key(), 0, 8).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.List("other").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry.Unregister("other").code(), StatusCode::kNotFound);
}

TEST(SharedMemoryRegistryTest, WindowsOutsideTheRegionAreRefusedWithoutOverflow) {
  ShmObject shm(128);
  ASSERT_TRUE(shm.ok());
  SharedMemoryRegistry registry;
  ASSERT_TRUE(registry.Register("r", shm.key(), 0, 64).ok());
  EXPECT_TRUE(registry.Find({"r", 64, 0}, "x").ok());
  EXPECT_TRUE(registry.Find({"r", 0, 64}, "x").ok());
  for (SharedMemoryRef bad :
       {SharedMemoryRef{"r", 65, 0}, SharedMemoryRef{"r", 8, 57}, SharedMemoryRef{"r", 1, 65},
        SharedMemoryRef{"r", 2, kMax}, SharedMemoryRef{"r", kMax, 1}}) {
    auto b = registry.Find(bad, "input 'x'");
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument)
        << bad.byte_size << "@" << bad.offset;
    EXPECT_NE(b.status().message().find("input 'x'"), std::string::npos);
  }
  EXPECT_EQ(registry.Find({"nope", 1, 0}, "x").status().code(), StatusCode::kNotFound);
}

// Unregistering is deferred: the name goes at once, the mapping once no tensor views it.
TEST(SharedMemoryRegistryTest, UnregisterKeepsTheMappingOfATensorInFlight) {
  ShmObject shm(64);
  ASSERT_TRUE(shm.ok());
  const float values[4] = {1, 2, 3, 4};
  shm.Put(0, values, 4);
  SharedMemoryRegistry registry;
  ASSERT_TRUE(registry.Register("r", shm.key(), 0, 64).ok());
  auto t = registry.InputTensor({"r", 16, 0}, DataType::kFp32, {1, 4}, "input 'x'");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(registry.Unregister("r").ok());
  EXPECT_TRUE(registry.List("")->empty());
  EXPECT_EQ(registry.Find({"r", 4, 0}, "x").status().code(), StatusCode::kNotFound);
  // The tensor is a view (no copy) and still reads the object through the server's mapping.
  shm.Put(0, values + 3, 1);
  EXPECT_EQ(t->as<float>()[0], 4.0f);
  EXPECT_EQ(t->as<float>()[3], 4.0f);
  EXPECT_TRUE(registry.Register("r", shm.key(), 0, 32).ok());  // the name is free again
}

TEST(SharedMemoryRegistryTest, OutputsAreWrittenIntoTheirWindowsOrRefusedWhenTooLarge) {
  ShmObject shm(64);
  ASSERT_TRUE(shm.ok());
  SharedMemoryRegistry registry;
  ASSERT_TRUE(registry.Register("r", shm.key(), 0, 64).ok());
  const std::vector<float> y = {7, 8};
  std::vector<NamedTensor> outputs = {{"y", Tensor::FromFloats({1, 2}, y)}};
  SharedMemoryOutputs targets;
  targets["y"] = *registry.Find({"r", 8, 32}, "output 'y'");
  auto written = WriteSharedMemoryOutputs(outputs, targets);
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(written->at("y"), 8u);
  EXPECT_EQ(shm.Get<float>(32), 7.0f);
  EXPECT_EQ(shm.Get<float>(36), 8.0f);
  targets["y"] = *registry.Find({"r", 4, 0}, "output 'y'");
  EXPECT_EQ(WriteSharedMemoryOutputs(outputs, targets).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(SharedMemoryRefTest, RegionAndByteSizeGoTogether) {
  EXPECT_FALSE(SharedMemoryRef::From({}, {}, {}, "x")->has_value());
  EXPECT_EQ(SharedMemoryRef::From("r", {}, {}, "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SharedMemoryRef::From({}, 4, {}, "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SharedMemoryRef::From("", 4, {}, "x").status().code(), StatusCode::kInvalidArgument);
  auto ref = SharedMemoryRef::From("r", 4, {}, "x");
  ASSERT_TRUE(ref.ok() && ref->has_value());
  EXPECT_EQ((*ref)->offset, 0u);
}

}  // namespace
}  // namespace batchwise
