#include "common/gnuplot.h"

#include <cstdlib>

namespace batchwise {

Status RunGnuplot(const std::string& script_path) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    return FailedPrecondition("gnuplot is not installed (apt-get install gnuplot-nox)");
  }
  std::string cmd = "gnuplot '" + script_path + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) return Internal("gnuplot failed on " + script_path);
  return Status::Ok();
}

std::string GnuplotQuote(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out;
}

}  // namespace batchwise
