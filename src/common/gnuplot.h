// Runs gnuplot (Debian's gnuplot-nox) on a script file: the one plotting route of the project.
#pragma once

#include <string>

#include "common/status.h"

namespace batchwise {

// FailedPrecondition when gnuplot is not installed; Internal (naming the script) when it fails.
Status RunGnuplot(const std::string& script_path);

// `s` with single quotes doubled, for a gnuplot single-quoted string.
std::string GnuplotQuote(const std::string& s);

}  // namespace batchwise
