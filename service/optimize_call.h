// The reactor of one unary Optimize call: submits the request's tracks to the
// scheduler and finishes the call when the last one is answered. Cancelling
// the call (or its deadline) retires its tracks within one step.
//
// Owned by gRPC: created by NioService, deleted in OnDone.
#ifndef NIO_SERVICE_OPTIMIZE_CALL_H_
#define NIO_SERVICE_OPTIMIZE_CALL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>

#include "nio/v1/nio.grpc.pb.h"
#include "service/call_metrics.h"
#include "service/call_resources.h"
#include "service/caller_identity.h"
#include "service/scheduler.h"

namespace nio::service {

class OptimizeCall final : public grpc::ServerUnaryReactor {
 public:
  // request and response belong to gRPC and live until OnDone. Requests
  // with more tracks than resources->interactive_max_tracks run as batch
  // work, shared fairly under the caller's share key; the tracks' steps are
  // held in the caller's ledger until they are answered.
  OptimizeCall(const CallResources* resources,
               grpc::CallbackServerContext* context,
               const nio::v1::OptimizeRequest* request,
               nio::v1::OptimizeResponse* response, Caller caller);

  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  // Written by the scheduler's callbacks (one thread at a time, under mu).
  struct State {
    std::mutex mu;
    int remaining = 0;
    bool finished = false;
    // OK, or the cancellation / deadline / shutdown that ended some track.
    absl::Status ended_by;
  };
  void TrackDone(int index, TrackOutcome outcome);
  void Run(const nio::v1::OptimizeRequest& request);
  // Records the call and finishes it; `this` may be gone after it.
  void End(const grpc::Status& status);

  const CallResources* resources_;
  const std::shared_ptr<const Caller> caller_;
  nio::v1::OptimizeResponse* response_;
  std::shared_ptr<CallControl> control_;
  std::shared_ptr<State> state_;
  CallTimer timer_;
};

// Steady-clock form of a gRPC deadline (max() when there is none).
Clock::time_point SteadyDeadline(const grpc::CallbackServerContext* context);

}  // namespace nio::service

#endif  // NIO_SERVICE_OPTIMIZE_CALL_H_
