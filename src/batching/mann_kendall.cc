#include "batching/mann_kendall.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

namespace batchwise {
namespace {

constexpr double kPi = 3.14159265358979323846;

int Sign(double v) { return (v > 0) - (v < 0); }

// Acklam's approximation to Φ⁻¹ (relative error < 1.15e-9).
double AcklamInverse(double p) {
  static constexpr std::array<double, 6> a = {-3.969683028665376e+01, 2.209460984245205e+02,
                                              -2.759285104469687e+02, 1.383577518672690e+02,
                                              -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr std::array<double, 5> b = {-5.447609879822406e+01, 1.615858368580409e+02,
                                              -1.556989798598866e+02, 6.680131188771972e+01,
                                              -1.328068155288572e+01};
  static constexpr std::array<double, 6> c = {-7.784894002430293e-03, -3.223964580411365e-01,
                                              -2.400758277161838e+00, -2.549732539343734e+00,
                                              4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr std::array<double, 4> d = {7.784695709041462e-03, 3.224671290700398e-01,
                                              2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  if (p < kLow || p > 1 - kLow) {
    const double q = std::sqrt(-2 * std::log(p < kLow ? p : 1 - p));
    const double x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                     ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    return p < kLow ? x : -x;
  }
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Σ_{i<j} sgn(x_j − x_i).
int64_t KendallS(std::span<const double> x) {
  int64_t s = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    for (size_t j = i + 1; j < x.size(); ++j) s += Sign(x[j] - x[i]);
  }
  return s;
}

// Σ_g t_g(t_g − 1)(2t_g + 5) over the groups of tied values.
double TieCorrection(std::span<const double> x) {
  std::vector<double> sorted(x.begin(), x.end());
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const double t = static_cast<double>(j - i);
    sum += t * (t - 1) * (2 * t + 5);
    i = j;
  }
  return sum;
}

}  // namespace

std::string_view TrendName(Trend trend) {
  switch (trend) {
    case Trend::kIncreasing:
      return "increasing";
    case Trend::kDecreasing:
      return "decreasing";
    case Trend::kNone:
      break;
  }
  return "none";
}

double InverseNormalCdf(double p) {
  if (std::isnan(p) || p < 0 || p > 1) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  const double x = AcklamInverse(p);
  // One Halley step on Φ(x) − p, with Φ(x) = erfc(−x/√2)/2.
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * kPi) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

double MannKendallCriticalZ(double alpha) { return InverseNormalCdf(1 - alpha / 2); }

MannKendallResult MannKendall(std::span<const double> x, double alpha) {
  MannKendallResult r;
  if (x.size() < 2) return r;
  const double n = static_cast<double>(x.size());
  r.s = KendallS(x);
  r.var_s = (n * (n - 1) * (2 * n + 5) - TieCorrection(x)) / 18.0;
  if (r.s == 0 || r.var_s <= 0) return r;
  const double sd = std::sqrt(r.var_s);
  r.z = r.s > 0 ? (r.s - 1) / sd : (r.s + 1) / sd;
  r.trend = r.z > 0 ? Trend::kIncreasing : (r.z < 0 ? Trend::kDecreasing : Trend::kNone);
  r.significant = std::abs(r.z) > MannKendallCriticalZ(alpha);
  return r;
}

}  // namespace batchwise
