#include "loadgen/arrivals.h"

#include <charconv>
#include <cmath>
#include <string>

namespace batchwise {
namespace {

Result<double> Number(std::string_view s, std::string_view what) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) {
    return InvalidArgument("bad " + std::string(what) + " '" + std::string(s) + "'");
  }
  return v;
}

Result<Duration> ParseDuration(std::string_view s) {
  double scale = 1e9;
  if (s.ends_with("ms")) {
    scale = 1e6;
    s.remove_suffix(2);
  } else if (s.ends_with("s")) {
    s.remove_suffix(1);
  } else if (s.ends_with("m")) {
    scale = 60e9;
    s.remove_suffix(1);
  }
  BW_ASSIGN_OR_RETURN(double v, Number(s, "duration"));
  if (v <= 0) return InvalidArgument("phase durations must be > 0");
  return Duration(static_cast<int64_t>(v * scale));
}

Result<RatePhase> ParsePhase(std::string_view s) {
  size_t at = s.find('@');
  if (at == std::string_view::npos) {
    return InvalidArgument("phase '" + std::string(s) + "' is not DURATION@RATE");
  }
  RatePhase p;
  BW_ASSIGN_OR_RETURN(p.duration, ParseDuration(s.substr(0, at)));
  std::string_view rates = s.substr(at + 1);
  size_t arrow = rates.find("->");
  BW_ASSIGN_OR_RETURN(p.start_rate_per_s, Number(rates.substr(0, arrow), "rate"));
  p.end_rate_per_s = p.start_rate_per_s;
  if (arrow != std::string_view::npos) {
    BW_ASSIGN_OR_RETURN(p.end_rate_per_s, Number(rates.substr(arrow + 2), "rate"));
  }
  return p;
}

}  // namespace

Result<RateSchedule> RateSchedule::Parse(std::string_view spec) {
  std::vector<RatePhase> phases;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    BW_ASSIGN_OR_RETURN(RatePhase p, ParsePhase(spec.substr(0, comma)));
    phases.push_back(p);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
  }
  if (phases.empty()) return InvalidArgument("empty rate schedule");
  return RateSchedule(std::move(phases));
}

RateSchedule RateSchedule::Constant(Duration d, double rate_per_s) {
  return RateSchedule({{d, rate_per_s, rate_per_s}});
}

size_t RateSchedule::PhaseAt(Duration t) const {
  for (size_t i = 0; i < phases_.size(); ++i) {
    if (t < phases_[i].duration) return i;
    t -= phases_[i].duration;
  }
  return phases_.size();
}

double RateSchedule::RateAt(Duration t) const {
  for (const auto& p : phases_) {
    if (t < p.duration) {
      double f = static_cast<double>(t.count()) / static_cast<double>(p.duration.count());
      return p.start_rate_per_s + f * (p.end_rate_per_s - p.start_rate_per_s);
    }
    t -= p.duration;
  }
  return 0;
}

Duration RateSchedule::total() const {
  Duration d{0};
  for (const auto& p : phases_) d += p.duration;
  return d;
}

ArrivalGenerator::ArrivalGenerator(RateSchedule schedule, ArrivalProcess process, uint64_t seed)
    : schedule_(std::move(schedule)), process_(process), rng_(seed) {}

std::optional<Duration> ArrivalGenerator::Next() {
  const Duration end = schedule_.total();
  while (t_ < end) {
    double rate = schedule_.RateAt(t_);
    if (rate <= 0) {  // an idle phase: skip to its end
      Duration phase_end{0};
      for (size_t i = 0; i <= schedule_.PhaseAt(t_); ++i)
        phase_end += schedule_.phases()[i].duration;
      t_ = phase_end;
      continue;
    }
    double gap_s = 1.0 / rate;
    if (process_ == ArrivalProcess::kPoisson) {
      gap_s = std::exponential_distribution<double>(rate)(rng_);
    }
    Duration at = t_;
    t_ += Duration(std::max<int64_t>(1, static_cast<int64_t>(gap_s * 1e9)));
    return at;
  }
  return std::nullopt;
}

}  // namespace batchwise
