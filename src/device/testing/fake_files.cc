#include "device/testing/fake_files.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace batchwise::testing {

namespace fs = std::filesystem;

FakeFileTree::FakeFileTree() {
  std::string pattern = (fs::temp_directory_path() / "batchwise-fake-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  root_ = pattern;
}

FakeFileTree::~FakeFileTree() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

void FakeFileTree::Write(const std::string& relative, const std::string& content) {
  fs::path p = fs::path(root_) / relative;
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

void FakeFileTree::Remove(const std::string& relative) { fs::remove(fs::path(root_) / relative); }

}  // namespace batchwise::testing
