// RemoteEngine: a TrackEngine over OptimizeStream calls on one channel (which
// may reach several servers: --server dns:///..., --lb round_robin).
//
// A job spreads over `streams` concurrent streams; with round_robin each new
// stream lands on the next server. A stream is replaced after
// `tracks_per_stream` tracks, so a server that came up after the job started
// gets work too. When a stream breaks (its server died) or a server answers a
// track UNAVAILABLE (its backend broke), the tracks it had
// not answered are sent again on another stream, so each track is answered
// exactly once; only when every attempt fails does the job stop.
#ifndef NIO_CLIENT_REMOTE_ENGINE_H_
#define NIO_CLIENT_REMOTE_ENGINE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "client/nio_client.h"
#include "client/track_engine.h"

namespace nio::client {

struct RemoteEngineOptions {
  // Tracks sent and not yet answered, over all streams; Send blocks beyond.
  int window = 4096;
  // Streams open at once.
  int streams = 1;
  // A stream takes no more tracks after this many (0: no limit); the next
  // ones go on a new stream.
  int64_t tracks_per_stream = 0;
  // Sends of one track in all, the first included, before its error (or the
  // broken stream's) is the answer.
  int max_attempts = 4;
  // Wait before sending a broken stream's tracks again, doubled per attempt.
  std::chrono::milliseconds backoff = std::chrono::milliseconds(200);
  // Told, one line each, when tracks are sent again; may be empty.
  std::function<void(const std::string&)> note;
};

class RemoteEngine final : public TrackEngine {
 public:
  RemoteEngine(NioClient* client, RemoteEngineOptions options);
  ~RemoteEngine() override;
  absl::Status Start(std::function<void(EngineResult)> on_result) override;
  absl::Status Send(const std::vector<models::RawTrack>& tracks,
                    const models::NioOptions& options) override;
  absl::Status Finish() override;
  std::string Describe() const override;

  // Streams opened so far, and tracks sent again after a failure.
  int64_t streams_opened() const;
  int64_t tracks_resent() const;

 private:
  struct Stream;
  // A track sent and not answered yet: what it takes to send it again.
  struct Unanswered {
    models::RawTrack track;
    std::shared_ptr<const models::NioOptions> options;
    int attempts = 0;
  };
  using Batch = std::vector<std::pair<std::string, Unanswered>>;

  // Sends `batch` on an open stream, opening one when fewer than
  // options_.streams are open; `exclude` (may be null) is not chosen.
  void Dispatch(Batch batch, const Stream* exclude);
  Stream* PickStreamLocked(const Stream* exclude);
  void ReadLoop(Stream* stream);
  // The stream ended: its unanswered tracks go out again, or the job fails.
  void Ended(Stream* stream, const grpc::Status& status);
  void Deliver(EngineResult result);
  // Half-closes `stream` (no more writes), once.
  static void Close(Stream* stream);

  NioClient* client_;
  const RemoteEngineOptions options_;
  std::function<void(EngineResult)> on_result_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Stream>> streams_;  // guarded by mu_
  int64_t in_flight_ = 0;    // guarded by mu_: sent, not delivered
  int readers_running_ = 0;  // guarded by mu_
  size_t largest_send_ = 1;  // guarded by mu_: tracks per resend message
  absl::Status failure_;     // guarded by mu_: the job's stop
  bool finishing_ = false;   // guarded by mu_
  bool cancelled_ = false;   // guarded by mu_
  int64_t resent_ = 0;       // guarded by mu_
  int64_t opened_ = 0;       // guarded by mu_
};

}  // namespace nio::client

#endif  // NIO_CLIENT_REMOTE_ENGINE_H_
