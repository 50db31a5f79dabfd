// CPU time from Linux's /proc, for the benchmarks that charge work to processes and threads.
#pragma once

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace batchwise {

// utime + stime in seconds from a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file; 0 when
// it cannot be read (the thread or process has exited).
inline double StatCpuSeconds(const std::string& path) {
  std::ifstream in(path);
  const std::string s((std::istreambuf_iterator<char>(in)), {});
  const size_t paren = s.rfind(')');  // the name in parentheses may contain spaces
  if (paren == std::string::npos) return 0;
  std::istringstream rest(s.substr(paren + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace batchwise
