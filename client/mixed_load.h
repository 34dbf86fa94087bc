// The mixed-load benchmark behind `nio bench --mixed`: what a one-track
// caller sees while catalog streams keep the server busy, against baselines
// measured in the same run:
//   1. one-track Optimize calls at `interactive_rate`/s on an idle server;
//   2. `concurrency` catalog streams alone (after a warm-up): tracks/s, as
//      track-steps/s (from progress events) over steps per track;
//   3. the same streams plus the same one-track calls from a separate
//      client (its own channel): tracks/s and one-track latency.
#ifndef NIO_CLIENT_MIXED_LOAD_H_
#define NIO_CLIENT_MIXED_LOAD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/latency_summary.h"
#include "client/nio_client.h"
#include "models/model_spec.h"
#include "nio/v1/nio.pb.h"

namespace nio::client {

struct MixedLoadOptions {
  std::string server;
  ConnectOptions connect;
  int streams = 8;  // catalog streams
  int tracks_per_message = 64;
  double interactive_rate = 5;  // one-track calls per second
  double seconds = 10;          // each measured phase
  double warmup_seconds = 5;    // streams alone before phase 2 is measured
  // Steps per track (0: the optimizer's default, resolved by the caller
  // from the model's); optimizer and starts unset: the model's defaults.
  int steps = 300;
  std::optional<models::Optimizer> optimizer;
  std::optional<int> starts;
  std::optional<models::NioMode> mode;
};

struct MixedLoadResult {
  LatencySummary idle;                    // phase 1
  double catalog_alone_tracks_per_s = 0;  // phase 2
  double catalog_mixed_tracks_per_s = 0;  // phase 3
  LatencySummary mixed;                   // phase 3
  int64_t stream_errors = 0;
};

// UNAVAILABLE when the server cannot be reached.
absl::StatusOr<MixedLoadResult> RunMixedLoad(const MixedLoadOptions& options,
                                             const nio::v1::ModelInfo& model);

}  // namespace nio::client

#endif  // NIO_CLIENT_MIXED_LOAD_H_
