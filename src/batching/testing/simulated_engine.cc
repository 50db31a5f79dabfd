#include "batching/testing/simulated_engine.h"

#include <algorithm>

namespace batchwise::testing {

SimulatedEngine::SimulatedEngine(SimulatedEngineOptions options)
    : opts_(options), rng_(options.seed) {}

double SimulatedEngine::MeanLatencyMicros(int batch_size) const {
  return (opts_.base_micros + opts_.per_sample_micros * batch_size) * load_;
}

Duration SimulatedEngine::Latency(int batch_size) {
  const double factor = std::max(0.1, 1.0 + opts_.noise_fraction * noise_(rng_));
  const double micros = MeanLatencyMicros(batch_size) * factor;
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::micro>(micros));
}

int SimulatedEngine::LargestSizeWithin(double target_micros, int max_batch_size) const {
  int best = 0;
  for (int b = 1; b <= max_batch_size; ++b) {
    if (MeanLatencyMicros(b) <= target_micros) best = b;
  }
  return best;
}

}  // namespace batchwise::testing
