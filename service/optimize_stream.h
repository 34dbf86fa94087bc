// The reactor of one OptimizeStream call. Reads messages of tracks, submits
// them to the scheduler, and writes each result (and progress event) as soon
// as it arrives. Flow control: while `window` tracks of this stream are in
// flight or answered but not yet written, it stops reading (and resumes as
// writes complete), so one stream never floods the queue and a client that
// sends but never reads holds at most `window` answers in server memory.
// Progress events beyond `window` unwritten ones are dropped (the result
// still comes). Bad tracks
// and rejected submissions are answered with an error result for that id;
// the stream goes on. It finishes OK once the client has half-closed and
// every track is answered.
//
// Owned by gRPC: created by NioService, deleted in OnDone. The scheduler's
// callbacks hold the shared State, never the reactor, so they are harmless
// after the call is gone.
#ifndef NIO_SERVICE_OPTIMIZE_STREAM_H_
#define NIO_SERVICE_OPTIMIZE_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "nio/v1/nio.grpc.pb.h"
#include "service/call_metrics.h"
#include "service/call_resources.h"
#include "service/caller_identity.h"
#include "service/scheduler.h"
#include "service/token_bucket.h"

namespace nio::service {

class OptimizeStream final
    : public grpc::ServerBidiReactor<nio::v1::OptimizeStreamRequest,
                                     nio::v1::OptimizeStreamResponse> {
 public:
  // Tracks run as batch work (unless a message claims interactive, at most
  // resources->interactive_max_tracks per message), shared fairly under
  // `share_key`; their steps are held in the caller's ledger until they are
  // answered. A caller over its open streams limit is answered
  // RESOURCE_EXHAUSTED at once.
  OptimizeStream(const CallResources* resources,
                 grpc::CallbackServerContext* context, Caller caller,
                 std::string share_key);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  struct State {
    std::mutex mu;
    OptimizeStream* reactor = nullptr;  // null once the call is done
    std::deque<nio::v1::OptimizeStreamResponse> to_write;
    int unsent_results = 0;   // results in to_write
    int unsent_progress = 0;  // progress events in to_write
    bool writing = false;
    bool reading = false;
    bool read_paused = false;  // window full: next read waits for results
    bool half_closed = false;
    bool finished = false;
    int in_flight = 0;
    // A message over the caller's --max_caller_track_steps while this
    // stream has tracks in flight: held (reading stops) until their answers
    // give budget back, then run; its steps in waiting_steps.
    std::optional<nio::v1::OptimizeStreamRequest> waiting;
    int64_t waiting_steps = 0;
    bool retrying = false;  // the held message is being handled
    // Progress events sent per second at most
    // (RequestLimits::max_progress_events_per_s).
    TokenBucket progress_rate{0, 0};
    CallerLedger* ledger = nullptr;
    std::shared_ptr<const Caller> caller;
    CallMetrics* metrics = nullptr;
  };

  // All below run with state_->mu held.
  void EnqueueLocked(nio::v1::OptimizeStreamResponse response);
  void MaybeWriteLocked();
  void MaybeReadLocked();
  void MaybeFinishLocked();
  void HandleRequest(const nio::v1::OptimizeStreamRequest& request);
  static void TrackDone(const std::shared_ptr<State>& state, std::string id,
                        TrackOutcome outcome);

  const CallResources* resources_;
  const int window_;
  const std::shared_ptr<const Caller> caller_;
  const std::string share_key_;
  bool stream_counted_ = false;  // OpenStream succeeded
  CallTimer timer_;              // under state_->mu
  std::shared_ptr<CallControl> control_;
  std::shared_ptr<State> state_;
  // Touched by the read path and the held message's retry, never at once
  // (reading stops while a message is held).
  std::unordered_set<std::string> seen_ids_;
  nio::v1::OptimizeStreamRequest request_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_OPTIMIZE_STREAM_H_
