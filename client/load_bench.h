// The load generator behind `nio bench`: concurrent clients sending Optimize
// calls (or streaming) for a fixed time, with throughput and latency
// percentiles.
#ifndef NIO_CLIENT_LOAD_BENCH_H_
#define NIO_CLIENT_LOAD_BENCH_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "client/nio_client.h"
#include "models/model_spec.h"
#include "nio/v1/nio.pb.h"

namespace nio::client {

struct LoadOptions {
  std::string server;
  ConnectOptions connect;
  int concurrency = 8;
  int tracks_per_request = 1;
  double seconds = 10;
  // Steps per track (0: the optimizer's default, resolved by the caller
  // from the model's); optimizer and starts unset: the model's defaults.
  int steps = 300;
  std::optional<models::Optimizer> optimizer;
  std::optional<int> starts;
  std::optional<models::NioMode> mode;
  // Each client streams through OptimizeStream (throughput only) instead of
  // unary calls.
  bool stream = false;
};

struct LoadResult {
  double seconds = 0;    // until every sent track was answered
  int64_t requests = 0;  // unary calls completed (0 when streaming)
  int64_t tracks = 0;    // tracks answered
  int64_t errors = 0;    // failed calls or tracks
  double tracks_per_s = 0;
  double latency_ms_p50 = 0, latency_ms_p90 = 0, latency_ms_p99 = 0;  // unary
};

// Tracks are the model's genres with training-mean features. UNAVAILABLE
// when the server cannot be reached.
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options,
                                   const nio::v1::ModelInfo& model);

}  // namespace nio::client

#endif  // NIO_CLIENT_LOAD_BENCH_H_
