// TrackEngine: where a batch job sends tracks: a server over OptimizeStream
// (RemoteEngine) or the engine in this process (LocalEngine). Results come
// back through a callback as each track finishes, in any order.
#ifndef NIO_CLIENT_TRACK_ENGINE_H_
#define NIO_CLIENT_TRACK_ENGINE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "models/nio_problem.h"

namespace nio::client {

// One finished track: its id and outcome (a per-track error or a result).
struct EngineResult {
  std::string id;
  models::TrackOutcome outcome;
};

class TrackEngine {
 public:
  virtual ~TrackEngine() = default;
  // Sends tracks with shared options. May block while the engine's window is
  // full (flow control). on_result (set by Start) is called once per track,
  // possibly on another thread.
  virtual absl::Status Send(const std::vector<models::RawTrack>& tracks,
                            const models::NioOptions& options) = 0;
  // Starts the engine; must be called once before Send.
  virtual absl::Status Start(std::function<void(EngineResult)> on_result) = 0;
  // No more tracks; blocks until every sent track is answered. Returns the
  // engine's final status (e.g. the stream's).
  virtual absl::Status Finish() = 0;
  // A line for logs ("server 127.0.0.1:50051", "local cpu ...").
  virtual std::string Describe() const = 0;
};

}  // namespace nio::client

#endif  // NIO_CLIENT_TRACK_ENGINE_H_
