// FakeFileTree: a temporary directory that tests fill with fake /proc and /sys/fs/cgroup files.
// Removed with the object. Not synchronised: one test thread uses it.
#pragma once

#include <string>

namespace batchwise::testing {

class FakeFileTree {
 public:
  FakeFileTree();
  ~FakeFileTree();
  FakeFileTree(const FakeFileTree&) = delete;
  FakeFileTree& operator=(const FakeFileTree&) = delete;

  // Writes `content` to root()/relative, creating parent directories.
  void Write(const std::string& relative, const std::string& content);
  void Remove(const std::string& relative);
  std::string Path(const std::string& relative) const { return root_ + "/" + relative; }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

}  // namespace batchwise::testing
