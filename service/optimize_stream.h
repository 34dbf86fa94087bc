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
#include <string>
#include <unordered_set>

#include "nio/v1/nio.grpc.pb.h"
#include "service/call_metrics.h"
#include "service/scheduler.h"

namespace nio::service {

class OptimizeStream final
    : public grpc::ServerBidiReactor<nio::v1::OptimizeStreamRequest,
                                     nio::v1::OptimizeStreamResponse> {
 public:
  // window: tracks in flight before the stream stops reading. Tracks run as
  // batch work (unless a message claims interactive, at most
  // interactive_max_tracks per message), shared fairly under `caller`.
  // metrics (may be null) records the stream when it ends.
  OptimizeStream(Scheduler* scheduler, grpc::CallbackServerContext* context,
                 int window, int interactive_max_tracks, std::string caller,
                 CallMetrics* metrics);

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
  };

  // All below run with state_->mu held.
  void EnqueueLocked(nio::v1::OptimizeStreamResponse response);
  void MaybeWriteLocked();
  void MaybeReadLocked();
  void MaybeFinishLocked();
  void HandleRequest(const nio::v1::OptimizeStreamRequest& request);
  static void TrackDone(const std::shared_ptr<State>& state, std::string id,
                        TrackOutcome outcome);

  Scheduler* scheduler_;
  const int window_;
  const int interactive_max_tracks_;
  const std::string caller_;
  CallTimer timer_;  // under state_->mu
  std::shared_ptr<CallControl> control_;
  std::shared_ptr<State> state_;
  std::unordered_set<std::string> seen_ids_;  // touched by the read path only
  nio::v1::OptimizeStreamRequest request_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_OPTIMIZE_STREAM_H_
