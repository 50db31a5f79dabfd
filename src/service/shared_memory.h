// The system shared-memory extension (Triton's), independent of the protocol: a registry of
// regions that clients create with shm_open and register by name, and the views into them that
// inference inputs are read from and outputs written to, in place. HTTP (/v2/systemsharedmemory)
// and gRPC (SystemSharedMemory*) are thin adapters over it; docs/http-api.md#shared-memory.
//
// A region is the window [offset, offset + byte_size) of the POSIX shared-memory object `key`,
// opened read-write and mapped once, at registration. A request names a region and a window of
// it (shared_memory_offset, shared_memory_byte_size), checked against the region's bounds with
// overflow-safe arithmetic. Unregistering is deferred, not refused: the name is gone at once
// (new requests naming it are NOT_FOUND, the name can be registered again), and the mapping is
// unmapped when the last request that still uses it (an input tensor that views it, an output
// waiting to be written) lets it go, so no request ever touches unmapped memory.
//
// The client must keep the object at least as large as it was at registration: a client that
// truncates it while a request reads or writes it makes the server fault (as with Triton).
//
// Thread-safe: every method from any thread. Views keep their mapping alive on their own.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "common/thread_annotations.h"
#include "serving/inference.h"

namespace batchwise {

// What a tensor's parameters "shared_memory_region", "shared_memory_byte_size" and
// "shared_memory_offset" (optional, default 0) name.
struct SharedMemoryRef {
  std::string region;
  uint64_t byte_size = 0;
  uint64_t offset = 0;

  // The reference the three parameters make, as the codecs found them (nullopt: absent);
  // nullopt when none is given; INVALID_ARGUMENT, naming `what`, when the region is given
  // without a byte size or the other way round, or the region name is empty.
  static Result<std::optional<SharedMemoryRef>> From(std::optional<std::string> region,
                                                     std::optional<uint64_t> byte_size,
                                                     std::optional<uint64_t> offset,
                                                     const std::string& what);
};

// A window of a registered region; keeps the region's mapping alive.
struct SharedMemoryBlock {
  std::string region;
  std::span<std::byte> bytes;
  std::shared_ptr<const void> keep_alive;
};

// Outputs a request asked to have written into shared memory, by output name.
using SharedMemoryOutputs = std::map<std::string, SharedMemoryBlock>;

// A registered region, as the status calls report it.
struct SharedMemoryRegionStatus {
  std::string name;
  std::string key;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

class SharedMemoryRegistry {
 public:
  SharedMemoryRegistry() = default;
  SharedMemoryRegistry(const SharedMemoryRegistry&) = delete;
  SharedMemoryRegistry& operator=(const SharedMemoryRegistry&) = delete;

  // Opens `key` with shm_open(O_RDWR) and maps [0, offset + byte_size) of it shared, read-write.
  // ALREADY_EXISTS for a name in use; NOT_FOUND when no object has that key;
  // FAILED_PRECONDITION when the server may not open it read-write; INVALID_ARGUMENT for an
  // empty name or key, a zero size, or a window past the object's end.
  Status Register(const std::string& name, const std::string& key, uint64_t offset,
                  uint64_t byte_size);
  // Forgets `name` (NOT_FOUND if not registered); its mapping goes once no request uses it.
  Status Unregister(const std::string& name);
  void UnregisterAll();
  // The regions by name (`name` empty: every one; else that one, NOT_FOUND if absent).
  Result<std::vector<SharedMemoryRegionStatus>> List(const std::string& name) const;

  // The window `ref` names: NOT_FOUND for an unknown region, INVALID_ARGUMENT (naming `what`)
  // for one outside the region.
  Result<SharedMemoryBlock> Find(const SharedMemoryRef& ref, const std::string& what) const;
  // An input tensor over the window `ref` names, viewed in place (copied only when the window
  // is not aligned for `dtype`); the caller checks it (CheckClientTensor: the window's size must
  // be the tensor's).
  Result<Tensor> InputTensor(const SharedMemoryRef& ref, DataType dtype, const Shape& shape,
                             const std::string& what) const;

 private:
  struct Region {
    SharedMemoryRegionStatus status;
    std::byte* base = nullptr;            // the window's first byte
    std::shared_ptr<const void> mapping;  // munmaps when the last holder lets go
  };
  mutable std::mutex mu_;
  std::map<std::string, Region> regions_ GUARDED_BY(mu_);
};

// Copies each output `targets` names into its window: INVALID_ARGUMENT when the output is larger
// than the window or the response lacks it. Returns how many bytes each output took, by name.
Result<std::map<std::string, uint64_t>> WriteSharedMemoryOutputs(
    const std::vector<NamedTensor>& outputs, const SharedMemoryOutputs& targets);

}  // namespace batchwise
