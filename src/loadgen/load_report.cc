#include "loadgen/load_report.h"

#include <spdlog/fmt/fmt.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/gnuplot.h"

namespace batchwise {

using json = nlohmann::json;

namespace {

double Ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string Errors(const LoadReport& r) {
  std::string out;
  for (const auto& [code, n] : r.errors)
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", code, n);
  if (!r.errors.empty()) {
    out += fmt::format(" (answered in p50 {:.2f} / p99 {:.2f} ms)",
                       Ms(r.error_latency.Percentile(50)), Ms(r.error_latency.Percentile(99)));
  }
  if (r.not_sent) out += fmt::format("{}NOT_SENT={}", out.empty() ? "" : " ", r.not_sent);
  return out.empty() ? "-" : out;
}

std::string Row(const std::string& label, const LoadReport& r) {
  const auto& h = r.latency;
  return fmt::format(
      "  {:<22} {:>8} {:>8} {:>9.1f} {:>9.1f} {:>7.2f}% {:>8.2f} {:>8.2f} {:>8.2f} "
      "{:>8.2f}  {}\n",
      label, r.sent, r.ok, r.throughput_per_s(), r.goodput_per_s(), r.slo_attainment() * 100,
      Ms(h.Percentile(50)), Ms(h.Percentile(90)), Ms(h.Percentile(99)), Ms(h.Percentile(99.9)),
      Errors(r));
}

std::string ControllerCsvPath(const std::string& csv_path) {
  std::string base = csv_path;
  if (base.size() > 4 && base.substr(base.size() - 4) == ".csv") base.resize(base.size() - 4);
  return base + ".controller.csv";
}

}  // namespace

std::string FormatLoadResults(const std::vector<ModelLoadResult>& results) {
  std::string out;
  for (const auto& m : results) {
    out += fmt::format("{} (SLO {:.1f} ms)\n", m.model, m.slo_ms);
    out += fmt::format("  {:<22} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}  {}\n",
                       "phase", "sent", "ok", "ok/s", "good/s", "SLO att", "p50 ms", "p90 ms",
                       "p99 ms", "p99.9 ms", "errors");
    const auto& phases = m.result.phases;
    if (phases.size() > 1) {  // a row per phase, then the whole run
      for (size_t i = 0; i < phases.size(); ++i) {
        out += Row(i < m.phase_labels.size() ? m.phase_labels[i] : fmt::format("phase {}", i + 1),
                   phases[i]);
      }
    }
    out += Row(phases.size() > 1 ? "whole run" : m.phase_labels.front(), m.result.total);
    if (m.result.total.sent_late) {
      out += fmt::format(
          "  {} requests were sent more than 1 ms late (counted from their intended "
          "time)\n",
          m.result.total.sent_late);
    }
  }
  return out;
}

json LoadResultsJson(const std::vector<ModelLoadResult>& results,
                     const std::vector<ControllerPoller::Sample>& controller) {
  json models = json::array();
  for (const auto& m : results) {
    json phases = json::array();
    for (size_t i = 0; i < m.result.phases.size(); ++i) {
      json p = m.result.phases[i].ToJson();
      if (i < m.phase_labels.size()) p["label"] = m.phase_labels[i];
      phases.push_back(std::move(p));
    }
    json series = json::array();
    for (const auto& w : m.series) {
      series.push_back({{"t_s", w.t_s},
                        {"ok", w.ok},
                        {"within_slo", w.within_slo},
                        {"errors", w.errors},
                        {"p50_ms", Ms(w.latency.Percentile(50))},
                        {"p99_ms", Ms(w.latency.Percentile(99))}});
    }
    models.push_back({{"model", m.model},
                      {"slo_ms", m.slo_ms},
                      {"total", m.result.total.ToJson()},
                      {"phases", phases},
                      {"series", series}});
  }
  json ctl = json::array();
  for (const auto& s : controller) {
    ctl.push_back({{"t_s", s.t_s},
                   {"model", s.model},
                   {"batch_size", s.batch_size},
                   {"settled", s.settled},
                   {"z", s.z},
                   {"queued_samples", s.queued_samples},
                   {"direction_changes", s.direction_changes}});
  }
  return {{"models", models}, {"controller", ctl}};
}

Status WriteLoadCsv(const std::vector<ModelLoadResult>& results,
                    const std::vector<ControllerPoller::Sample>& controller,
                    const std::string& csv_path, double window_s) {
  std::ofstream series(csv_path);
  if (!series) return InvalidArgument("cannot write " + csv_path);
  series << "model,t_s,ok_per_s,goodput_per_s,errors_per_s,p50_ms,p99_ms\n";
  for (const auto& m : results) {
    for (const auto& w : m.series) {
      // A window without answers has no latency (NaN: a gap in the plot, not a zero).
      auto latency = [&](double p) {
        return w.ok ? fmt::format("{:.3f}", Ms(w.latency.Percentile(p))) : std::string("NaN");
      };
      series << fmt::format("{},{:.3f},{:.1f},{:.1f},{:.1f},{},{}\n", m.model, w.t_s,
                            w.ok / window_s, w.within_slo / window_s, w.errors / window_s,
                            latency(50), latency(99));
    }
  }
  const std::string ctl_path = ControllerCsvPath(csv_path);
  std::ofstream ctl(ctl_path);
  if (!ctl) return InvalidArgument("cannot write " + ctl_path);
  ctl << "model,t_s,batch_size,settled,z,queued_samples,direction_changes\n";
  for (const auto& s : controller) {
    ctl << fmt::format("{},{:.3f},{},{},{:.3f},{},{}\n", s.model, s.t_s, s.batch_size,
                       s.settled ? 1 : 0, s.z, s.queued_samples, s.direction_changes);
  }
  return Status::Ok();
}

Status WriteLoadPlot(const std::vector<ModelLoadResult>& results,
                     const std::vector<ControllerPoller::Sample>& controller,
                     const std::string& png_path, double window_s, const std::string& title) {
  const std::string csv = png_path + ".csv", gp = png_path + ".gp";
  BW_RETURN_IF_ERROR(WriteLoadCsv(results, controller, csv, window_s));
  const std::string ctl = ControllerCsvPath(csv);
  std::ostringstream s;
  s << "set terminal pngcairo noenhanced size 1200,900 font ',10'\n"
    << "set output '" << GnuplotQuote(png_path) << "'\n"
    << "set datafile separator ','\nset datafile missing NaN\n"
    << "set multiplot layout 3,1 title '" << GnuplotQuote(title) << "'\n"
    << "set grid\nset key outside right\nset xlabel 'time (s)'\n";
  // One line per model: rows of other models are NaN for that line.
  auto plot = [&](const std::string& file, int column, const std::string& what,
                  const std::string& style) {
    std::string line;
    for (size_t i = 0; i < results.size(); ++i) {
      const std::string m = GnuplotQuote(results[i].model);
      line +=
          fmt::format("{}'{}' skip 1 using 2:(strcol(1) eq '{}' ? ${} : NaN) with {} title '{} {}'",
                      line.empty() ? "" : ", ", GnuplotQuote(file), m, column, style, m, what);
    }
    return line;
  };
  s << "set ylabel 'latency (ms)'\nset logscale y\nplot " << plot(csv, 6, "p50", "lines") << ", "
    << plot(csv, 7, "p99", "lines") << "\nunset logscale y\n";
  s << "set ylabel 'requests/s'\nset yrange [0:*]\nplot " << plot(csv, 3, "ok/s", "lines") << ", "
    << plot(csv, 4, "goodput/s", "lines") << "\n";
  s << "set ylabel 'server batch size'\nset yrange [0:*]\nplot "
    << plot(ctl, 3, "batch size", "steps") << "\n";
  s << "unset multiplot\n";
  std::ofstream(gp) << s.str();
  return RunGnuplot(gp);
}

}  // namespace batchwise
