#include "profile/report.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <spdlog/fmt/fmt.h>

#include "common/gnuplot.h"

namespace batchwise {
namespace {

std::string Label(const PerfTable& t) {
  return t.processor_id + " " + t.engine + (t.simulated ? " (simulated)" : "");
}

std::string Memory(uint64_t bytes) {
  return bytes ? fmt::format("{:.1f} MiB", bytes / 1048576.0) : "-";
}

std::string Util(double u) { return u < 0 ? "-" : fmt::format("{:.0f}%", u * 100); }

// Gnuplot data: one block per (table, instances), separated by two blank lines (an "index").
std::string PlotData(const std::vector<PerfTable>& tables, std::vector<std::string>& titles) {
  std::ostringstream d;
  for (const auto& t : tables) {
    for (int k = 1; k <= 64; ++k) {
      auto row = t.Row(k);
      if (row.empty()) continue;
      titles.push_back(fmt::format("{} x{}", Label(t), k));
      d << "# " << titles.back() << "\n";
      for (const auto& c : row) d << c.batch_size << " " << c.throughput << " " << c.latency_p99_ms << "\n";
      d << "\n\n";
    }
  }
  return d.str();
}

std::string PlotScript(const std::string& png, const std::string& dat, const std::string& title,
                       const std::vector<std::string>& titles) {
  std::ostringstream s;
  s << "set terminal pngcairo size 1200,520 font ',10'\n"
    << "set output '" << png << "'\n"
    << "set multiplot layout 1,2 title '" << title << "'\n"
    << "set logscale x 2\nset grid\nset key top left\nset xlabel 'batch size'\n";
  auto plot = [&](int column, const char* ylabel) {
    s << "set ylabel '" << ylabel << "'\nplot ";
    for (size_t i = 0; i < titles.size(); ++i) {
      s << (i ? ", " : "") << "'" << dat << "' index " << i << " using 1:" << column
        << " with linespoints title '" << titles[i] << "'";
    }
    s << "\n";
  };
  plot(2, "throughput (samples/s)");
  plot(3, "p99 latency (ms)");
  s << "unset multiplot\n";
  return s.str();
}

}  // namespace

std::string FormatPerfTables(const std::vector<PerfTable>& tables) {
  std::string out = fmt::format("{:<26} {:>4} {:>5} {:>10} {:>9} {:>9} {:>9} {:>9} {:>10} {:>5}\n",
                                "processor / engine", "inst", "batch", "samples/s", "avg ms",
                                "p50 ms", "p90 ms", "p99 ms", "memory", "util");
  for (const auto& t : tables) {
    for (const auto& c : t.cells) {
      out += fmt::format("{:<26} {:>4} {:>5} {:>10.1f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>10} {:>5}\n",
                         Label(t), c.instances, c.batch_size, c.throughput, c.latency_avg_ms,
                         c.latency_p50_ms, c.latency_p90_ms, c.latency_p99_ms,
                         Memory(c.memory_bytes), Util(c.utilization));
    }
    out += fmt::format("  -> {} {}: processing performance {:.1f} samples/s, max useful instances {}\n",
                       t.model_name, Label(t), t.ProcessingPerformance(), t.MaxUsefulInstances());
  }
  return out;
}

Status WritePerfPlot(const std::vector<PerfTable>& tables, const std::string& png_path,
                     const std::string& title) {
  std::vector<std::string> titles;
  std::string dat = png_path + ".dat", gp = png_path + ".gp";
  std::ofstream(dat) << PlotData(tables, titles);
  if (titles.empty()) return InvalidArgument("nothing to plot: the tables have no cells");
  std::ofstream(gp) << PlotScript(png_path, dat, title, titles);
  return RunGnuplot(gp);
}

}  // namespace batchwise
