#include "device/processor.h"

#include <charconv>
#include <set>

namespace batchwise {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<int> ParseNonNegative(std::string_view s, std::string_view item) {
  int v = -1;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0) {
    return InvalidArgument("cpu spec '" + std::string(item) + "': '" + std::string(s) +
                           "' is not a non-negative integer");
  }
  return v;
}

// A contiguous range of logical core indices [first, last].
struct CoreRange {
  int first = 0;
  int last = 0;
};

std::string RangeId(CoreRange r) {
  if (r.first == r.last) return "cpu:" + std::to_string(r.first);
  return "cpu:" + std::to_string(r.first) + "-" + std::to_string(r.last);
}

Result<CoreRange> ParseRange(std::string_view s, std::string_view item) {
  size_t dash = s.find('-');
  BW_ASSIGN_OR_RETURN(int first, ParseNonNegative(s.substr(0, dash), item));
  if (dash == std::string_view::npos) return CoreRange{first, first};
  BW_ASSIGN_OR_RETURN(int last, ParseNonNegative(s.substr(dash + 1), item));
  if (last < first) return InvalidArgument("cpu spec '" + std::string(item) + "': empty range");
  return CoreRange{first, last};
}

// Splits `n` cores into `parts` contiguous ranges; the first n % parts ranges get one extra.
std::vector<CoreRange> SplitEvenly(int n, int parts) {
  std::vector<CoreRange> out;
  int next = 0;
  for (int i = 0; i < parts; ++i) {
    int size = n / parts + (i < n % parts ? 1 : 0);
    out.push_back({next, next + size - 1});
    next += size;
  }
  return out;
}

// One spec item → (id, core range) pairs; "cpu" is the whole CPU with id "cpu".
Result<std::vector<std::pair<std::string, CoreRange>>> ParseItem(std::string_view item,
                                                                 int n_cores) {
  std::vector<std::pair<std::string, CoreRange>> out;
  CoreRange all{0, n_cores - 1};
  if (item == "cpu") {
    out.emplace_back("cpu", all);
  } else if (item == "cpu:*") {
    for (CoreRange r : SplitEvenly(n_cores, n_cores)) out.emplace_back(RangeId(r), r);
  } else if (item.starts_with("cpu/")) {
    BW_ASSIGN_OR_RETURN(int parts, ParseNonNegative(item.substr(4), item));
    if (parts < 1 || parts > n_cores) {
      return InvalidArgument("cpu spec '" + std::string(item) + "': partitions must be 1.." +
                             std::to_string(n_cores) + " (this machine's cores)");
    }
    for (CoreRange r : SplitEvenly(n_cores, parts)) out.emplace_back(RangeId(r), r);
  } else if (item.starts_with("cpu:")) {
    BW_ASSIGN_OR_RETURN(CoreRange r, ParseRange(item.substr(4), item));
    if (r.last >= n_cores) {
      return InvalidArgument("cpu spec '" + std::string(item) + "': this machine has cores 0.." +
                             std::to_string(n_cores - 1));
    }
    out.emplace_back(RangeId(r), r);
  } else {
    return InvalidArgument("cpu spec item '" + std::string(item) +
                           "' is not one of cpu, cpu:N, cpu:N-M, cpu:*, cpu/N");
  }
  return out;
}

Processor MakeCpuProcessor(const CpuTopology& topology, std::string id, CoreRange r) {
  Processor p;
  p.id = std::move(id);
  p.kind = ProcessorKind::kCpu;
  for (int c = r.first; c <= r.last; ++c) {
    const auto& pus = topology.cores[c];
    p.cores.insert(p.cores.end(), pus.begin(), pus.end());
  }
  p.memory_bytes = topology.memory_bytes;
  p.model = topology.model;
  p.signature = CpuSignature(topology, p.cores);
  return p;
}

// Rejects a range that shares a core with one already taken.
Status ClaimCores(CoreRange r, std::set<int>& taken, std::string_view spec) {
  for (int c = r.first; c <= r.last; ++c) {
    if (!taken.insert(c).second) {
      return InvalidArgument("cpu spec '" + std::string(spec) + "': core " + std::to_string(c) +
                             " is in two partitions; partitions must not overlap");
    }
  }
  return Status::Ok();
}

}  // namespace

std::string_view ProcessorKindName(ProcessorKind kind) {
  switch (kind) {
    case ProcessorKind::kCpu:
      return "cpu";
    case ProcessorKind::kGpu:
      return "gpu";
    case ProcessorKind::kNpu:
      return "npu";
  }
  return "unknown";
}

Result<ProcessorKind> ParseProcessorKind(std::string_view name) {
  if (name == "cpu") return ProcessorKind::kCpu;
  if (name == "gpu") return ProcessorKind::kGpu;
  if (name == "npu") return ProcessorKind::kNpu;
  return InvalidArgument("processor kind '" + std::string(name) + "' is not cpu, gpu or npu");
}

std::string CpuSignature(const CpuTopology& topology, const std::vector<int>& pus) {
  std::string s = "cpu|" + topology.model + "|pus=";
  for (size_t i = 0; i < pus.size(); ++i) s += (i ? "," : "") + std::to_string(pus[i]);
  return s + "|mem_bytes=" + std::to_string(topology.memory_bytes);
}

Result<std::vector<Processor>> MakeCpuProcessors(const CpuTopology& topology,
                                                 std::string_view spec) {
  int n_cores = static_cast<int>(topology.cores.size());
  if (n_cores == 0) return FailedPrecondition("the CPU topology has no cores");
  std::vector<Processor> out;
  std::set<int> taken;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = std::min(spec.find(',', start), spec.size());
    std::string_view item = Trim(spec.substr(start, comma - start));
    start = comma + 1;
    if (item.empty())
      return InvalidArgument("cpu spec '" + std::string(spec) + "' has an empty item");
    BW_ASSIGN_OR_RETURN(auto parts, ParseItem(item, n_cores));
    for (auto& [id, range] : parts) {
      BW_RETURN_IF_ERROR(ClaimCores(range, taken, spec));
      out.push_back(MakeCpuProcessor(topology, id, range));
    }
  }
  return out;
}

}  // namespace batchwise
