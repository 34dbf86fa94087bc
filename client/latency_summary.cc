#include "client/latency_summary.h"

#include <algorithm>
#include <cmath>

namespace nio::client {

LatencySummary Summarize(std::vector<double> latencies_ms, int64_t errors) {
  LatencySummary s;
  s.calls = static_cast<int64_t>(latencies_ms.size());
  s.errors = errors;
  if (latencies_ms.empty()) return s;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double q) {
    const size_t rank = static_cast<size_t>(std::ceil(q * latencies_ms.size()));
    return latencies_ms[std::clamp<size_t>(rank, 1, latencies_ms.size()) - 1];
  };
  s.p50_ms = pct(0.5);
  s.p90_ms = pct(0.9);
  s.p99_ms = pct(0.99);
  s.max_ms = latencies_ms.back();
  return s;
}

absl::StatusOr<std::vector<models::RawTrack>> GenreTracks(
    const nio::v1::ModelInfo& model) {
  std::vector<models::RawTrack> pool;
  for (const std::string& genre : model.genres())
    pool.push_back({genre, {}, genre});
  if (pool.empty())
    return absl::FailedPreconditionError("the model has no genres");
  return pool;
}

}  // namespace nio::client
