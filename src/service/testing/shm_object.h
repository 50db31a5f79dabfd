// A POSIX shared-memory object for tests, as a client creates one: shm_open(O_CREAT | O_EXCL),
// sized, mapped; unlinked and unmapped when destroyed. Not thread-safe.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <string>

namespace batchwise::testing {

class ShmObject {
 public:
  explicit ShmObject(size_t size) : size_(size) {
    static std::atomic<int> next{0};
    key_ = "/batchwise_test_" + std::to_string(getpid()) + "_" + std::to_string(next++);
    const int fd = shm_open(key_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd >= 0 && ftruncate(fd, static_cast<off_t>(size)) == 0) {
      void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) data_ = static_cast<std::byte*>(p);
    }
    if (fd >= 0) close(fd);
  }
  ~ShmObject() {
    if (data_ != nullptr) munmap(data_, size_);
    shm_unlink(key_.c_str());
  }
  ShmObject(const ShmObject&) = delete;
  ShmObject& operator=(const ShmObject&) = delete;

  bool ok() const { return data_ != nullptr; }
  const std::string& key() const { return key_; }
  std::byte* data() const { return data_; }
  template <typename T>
  void Put(size_t offset, const T* values, size_t count) {
    std::memcpy(data_ + offset, values, count * sizeof(T));
  }
  template <typename T>
  T Get(size_t offset) const {
    T v;
    std::memcpy(&v, data_ + offset, sizeof(T));
    return v;
  }

 private:
  size_t size_;
  std::string key_;
  std::byte* data_ = nullptr;
};

}  // namespace batchwise::testing
