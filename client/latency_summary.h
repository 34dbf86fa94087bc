// Latency percentiles and the track pool the load generators share.
#ifndef NIO_CLIENT_LATENCY_SUMMARY_H_
#define NIO_CLIENT_LATENCY_SUMMARY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "models/featurizer.h"
#include "nio/v1/nio.pb.h"

namespace nio::client {

struct LatencySummary {
  int64_t calls = 0;
  int64_t errors = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};

// Nearest-rank percentiles of latencies in ms.
LatencySummary Summarize(std::vector<double> latencies_ms, int64_t errors);

// One track per genre of the model, with training-mean features (id = the
// genre); FAILED_PRECONDITION when the model has no genres.
absl::StatusOr<std::vector<models::RawTrack>> GenreTracks(
    const nio::v1::ModelInfo& model);

}  // namespace nio::client

#endif  // NIO_CLIENT_LATENCY_SUMMARY_H_
