// Session: what the CLI talks to: a server (through NioClient) or the engine
// in this process (--local). Same calls either way.
#ifndef NIO_CLIENT_SESSION_H_
#define NIO_CLIENT_SESSION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/nio_client.h"
#include "client/track_engine.h"
#include "models/model.h"
#include "nio/v1/nio.pb.h"
#include "service/optimizer.h"

namespace nio::client {

struct LocalOptions {
  std::string model_dir;  // empty: the bundled model
  // The in-process engine: backend, threads, slots.
  service::SchedulerOptions engine;
};

// How a batch job streams its tracks.
struct StreamOptions {
  int window = 4096;  // tracks in flight at most
  // A server: streams open at once, and tracks a stream carries before a
  // new one takes over (0: no limit). See RemoteEngine.
  int streams = 1;
  int64_t tracks_per_stream = 0;
  // Told of what the job survived (tracks sent again); may be empty.
  std::function<void(const std::string&)> note;
};

class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Remote(
      const std::string& address, const ConnectOptions& connect = {});
  static absl::StatusOr<std::unique_ptr<Session>> Local(
      const LocalOptions& options);

  absl::StatusOr<nio::v1::ModelInfo> GetModel();
  absl::StatusOr<std::vector<absl::StatusOr<double>>> Predict(
      const std::vector<models::RawTrack>& tracks);
  absl::StatusOr<std::vector<models::TrackOutcome>> Optimize(
      const std::vector<models::RawTrack>& tracks,
      const models::NioOptions& options);
  // A streaming engine for batch jobs.
  absl::StatusOr<std::unique_ptr<TrackEngine>> StreamEngine(
      const StreamOptions& options);

 private:
  Session() = default;
  std::unique_ptr<NioClient> client_;     // remote
  std::unique_ptr<models::Model> model_;  // local
  LocalOptions local_;
  std::unique_ptr<service::Optimizer> optimizer_;
};

}  // namespace nio::client

#endif  // NIO_CLIENT_SESSION_H_
