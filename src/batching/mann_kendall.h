// Mann–Kendall trend test (steps S402–S405, docs/design.md §1) and the inverse normal CDF it
// needs.
//
// Pure functions over values; thread-safe, no state.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace batchwise {

enum class Trend { kNone, kIncreasing, kDecreasing };

// "none", "increasing", "decreasing".
std::string_view TrendName(Trend trend);

struct MannKendallResult {
  int64_t s = 0;     // S = Σ_{i<j} sgn(x_j − x_i)
  double var_s = 0;  // Var(S), tie-corrected
  double z = 0;      // continuity-corrected standard score; 0 when S = 0 or Var(S) = 0
  // The sign of Z (kNone when Z = 0), whether or not it is significant.
  Trend trend = Trend::kNone;
  // |Z| > z_{1−α/2}.
  bool significant = false;
};

// Runs the test over `x` (oldest first) at two-sided significance `alpha` in (0, 1).
// Fewer than two values, or a constant series, give S = 0, Z = 0, no trend.
MannKendallResult MannKendall(std::span<const double> x, double alpha = 0.05);

// The critical value z_{1−α/2} of the two-sided test: InverseNormalCdf(1 − alpha / 2).
double MannKendallCriticalZ(double alpha);

// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation refined by one Halley step on erfc,
// accurate to about 1e-15. Returns ±infinity at p = 0 or 1 and NaN outside [0, 1].
double InverseNormalCdf(double p);

}  // namespace batchwise
