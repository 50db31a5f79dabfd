// LatencyPredictor: the predicted compute time of a batch, from which the batcher derives how long
// the oldest request may wait (wait budget = latency target − predicted compute).
//
// Two implementations: from a load-performance table (profile/, step S1), and a running estimate
// learned from the batches themselves. Not thread-safe: the Batcher calls it under its mutex.
#pragma once

#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/perf_table.h"

namespace batchwise {

class LatencyPredictor {
 public:
  virtual ~LatencyPredictor() = default;
  // Predicted compute latency of a batch of `batch_size` samples; zero when nothing is known.
  virtual Duration Predict(int batch_size) const = 0;
  // Learns from a finished batch (a table-based predictor ignores it).
  virtual void Observe(int batch_size, Duration latency) = 0;
};

// Replays a load-performance table's average latency at `instances` concurrent instances
// (interpolated between measured sizes, as PerfTable::LatencyMs does).
std::unique_ptr<LatencyPredictor> NewPerfTablePredictor(PerfTable table, int instances = 1);

// An exponentially weighted mean latency per batch size in [1, max_batch_size], `weight` on the
// newest batch. Unseen sizes: linear interpolation between the nearest seen sizes; above the
// largest seen, proportional scaling (an upper bound for latency = a + b·size, a >= 0); below the
// smallest seen, the smallest's latency.
std::unique_ptr<LatencyPredictor> NewEwmaPredictor(int max_batch_size, double weight = 0.2);

}  // namespace batchwise
