#include "service/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace batchwise {
namespace {

// One mmap of a shared-memory object; unmapped when destroyed.
class Mapping {
 public:
  Mapping(void* address, size_t length) : address_(address), length_(length) {}
  ~Mapping() { munmap(address_, length_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  std::byte* data() const { return static_cast<std::byte*>(address_); }

 private:
  void* const address_;
  const size_t length_;
};

// Closes a file descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() { close(fd); }
};

Status OpenError(const std::string& key, int error) {
  const std::string why = std::string(" (") + std::strerror(error) + ")";
  switch (error) {
    case ENOENT:
      return NotFound("no shared-memory object has the key '" + key + "'" + why);
    case EACCES:
    case EPERM:
      return FailedPrecondition("the server may not open the shared-memory object '" + key +
                                "' read-write" + why);
    case EINVAL:
    case ENAMETOOLONG:
      return InvalidArgument("'" + key + "' is not a valid shared-memory key" + why);
    default:
      return Internal("cannot open the shared-memory object '" + key + "'" + why);
  }
}

// Maps [0, length) of `key` read-write.
Result<std::shared_ptr<Mapping>> Map(const std::string& key, uint64_t offset, uint64_t byte_size) {
  const int fd = shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0) return OpenError(key, errno);
  FdCloser closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0) return OpenError(key, errno);
  const uint64_t object_size = st.st_size < 0 ? 0 : static_cast<uint64_t>(st.st_size);
  if (offset > object_size || byte_size > object_size - offset) {
    return InvalidArgument("the window of " + std::to_string(byte_size) + " bytes at offset " +
                           std::to_string(offset) +
                           " runs past the end of the shared-memory "
                           "object '" +
                           key + "' (" + std::to_string(object_size) + " bytes)");
  }
  const size_t length = static_cast<size_t>(offset + byte_size);  // <= object_size: fits
  void* address = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) {
    return Internal("cannot map the shared-memory object '" + key + "' (" + std::strerror(errno) +
                    ")");
  }
  return std::make_shared<Mapping>(address, length);
}

}  // namespace

Result<std::optional<SharedMemoryRef>> SharedMemoryRef::From(std::optional<std::string> region,
                                                             std::optional<uint64_t> byte_size,
                                                             std::optional<uint64_t> offset,
                                                             const std::string& what) {
  if (!region && !byte_size && !offset) return std::optional<SharedMemoryRef>();
  if (!region || !byte_size) {
    return InvalidArgument(what +
                           ": shared_memory_region and shared_memory_byte_size go "
                           "together (shared_memory_offset is optional)");
  }
  if (region->empty()) return InvalidArgument(what + ": shared_memory_region is empty");
  return std::optional<SharedMemoryRef>(
      SharedMemoryRef{std::move(*region), *byte_size, offset.value_or(0)});
}

Status SharedMemoryRegistry::Register(const std::string& name, const std::string& key,
                                      uint64_t offset, uint64_t byte_size) {
  if (name.empty()) return InvalidArgument("a shared-memory region needs a name");
  if (key.empty()) return InvalidArgument("shared-memory region '" + name + "' needs a key");
  if (byte_size == 0) {
    return InvalidArgument("shared-memory region '" + name + "': byte_size must be positive");
  }
  if (offset > std::numeric_limits<size_t>::max() - byte_size) {
    return InvalidArgument("shared-memory region '" + name + "': offset + byte_size overflows");
  }
  {
    std::lock_guard lock(mu_);
    if (regions_.count(name) > 0) {
      return AlreadyExists("shared-memory region '" + name + "' is already registered");
    }
  }
  BW_ASSIGN_OR_RETURN(std::shared_ptr<Mapping> mapping, Map(key, offset, byte_size));
  Region region{{name, key, offset, byte_size}, mapping->data() + offset, mapping};
  std::lock_guard lock(mu_);
  if (!regions_.emplace(name, std::move(region)).second) {  // registered meanwhile
    return AlreadyExists("shared-memory region '" + name + "' is already registered");
  }
  return Status::Ok();
}

Status SharedMemoryRegistry::Unregister(const std::string& name) {
  std::lock_guard lock(mu_);
  if (regions_.erase(name) == 0) {
    return NotFound("no shared-memory region '" + name + "' is registered");
  }
  return Status::Ok();
}

void SharedMemoryRegistry::UnregisterAll() {
  std::lock_guard lock(mu_);
  regions_.clear();
}

Result<std::vector<SharedMemoryRegionStatus>> SharedMemoryRegistry::List(
    const std::string& name) const {
  std::lock_guard lock(mu_);
  std::vector<SharedMemoryRegionStatus> out;
  if (name.empty()) {
    for (const auto& [n, r] : regions_) out.push_back(r.status);
    return out;
  }
  auto it = regions_.find(name);
  if (it == regions_.end()) return NotFound("no shared-memory region '" + name + "' is registered");
  out.push_back(it->second.status);
  return out;
}

Result<SharedMemoryBlock> SharedMemoryRegistry::Find(const SharedMemoryRef& ref,
                                                     const std::string& what) const {
  std::lock_guard lock(mu_);
  auto it = regions_.find(ref.region);
  if (it == regions_.end()) {
    return NotFound(what + ": no shared-memory region '" + ref.region + "' is registered");
  }
  const Region& r = it->second;
  if (ref.offset > r.status.byte_size || ref.byte_size > r.status.byte_size - ref.offset) {
    return InvalidArgument(what + ": " + std::to_string(ref.byte_size) + " bytes at offset " +
                           std::to_string(ref.offset) +
                           " run past the end of shared-memory "
                           "region '" +
                           ref.region + "' (" + std::to_string(r.status.byte_size) + " bytes)");
  }
  return SharedMemoryBlock{
      ref.region, {r.base + ref.offset, static_cast<size_t>(ref.byte_size)}, r.mapping};
}

Result<Tensor> SharedMemoryRegistry::InputTensor(const SharedMemoryRef& ref, DataType dtype,
                                                 const Shape& shape,
                                                 const std::string& what) const {
  BW_ASSIGN_OR_RETURN(SharedMemoryBlock block, Find(ref, what));
  const size_t align = std::max<size_t>(1, DataTypeSize(dtype));
  if (reinterpret_cast<uintptr_t>(block.bytes.data()) % align != 0) {
    return Tensor::CopyOf(dtype, shape, block.bytes);
  }
  return Tensor::Borrow(dtype, shape, block.bytes, std::move(block.keep_alive));
}

Result<std::map<std::string, uint64_t>> WriteSharedMemoryOutputs(
    const std::vector<NamedTensor>& outputs, const SharedMemoryOutputs& targets) {
  std::map<std::string, uint64_t> written;
  for (const auto& [name, block] : targets) {
    const NamedTensor* output = nullptr;
    for (const NamedTensor& o : outputs) {
      if (o.name == name) output = &o;
    }
    if (output == nullptr) return Internal("the response has no output '" + name + "'");
    const size_t size = output->tensor.byte_size();
    if (size > block.bytes.size()) {
      return InvalidArgument("output '" + name + "' takes " + std::to_string(size) +
                             " bytes; shared_memory_byte_size gives it " +
                             std::to_string(block.bytes.size()) + " in region '" + block.region +
                             "'");
    }
    if (size > 0) std::memcpy(block.bytes.data(), output->tensor.data(), size);
    written[name] = size;
  }
  return written;
}

}  // namespace batchwise
