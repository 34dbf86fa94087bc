// Optimizer: the in-process NIO API. Takes raw tracks with per-track options,
// runs them through the same step-level scheduler the server uses (its own
// instance, its own backend), and returns one outcome per track (a bad track
// fails alone). Also the plain prediction path.
//
// Thread-safe; calls from several threads share the batch.
#ifndef NIO_SERVICE_OPTIMIZER_H_
#define NIO_SERVICE_OPTIMIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend_factory.h"
#include "models/featurizer.h"
#include "models/model.h"
#include "models/nio_problem.h"
#include "service/scheduler.h"

namespace nio::service {

using models::TrackOutcome;
using models::TrackRequest;

class Optimizer {
 public:
  // model: not owned, must outlive the optimizer.
  // options.max_queue is ignored: in-process, the caller's memory is the
  // limit.
  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(
      const models::Model& model, const SchedulerOptions& options);

  // Every track gets exactly what it would get alone. Blocks until all are
  // done; outcomes in request order. Runs in the interactive block when the
  // tracks' starts fit in it, else in the batch block.
  std::vector<TrackOutcome> Optimize(const std::vector<TrackRequest>& requests);

  // f(x) per track.
  std::vector<absl::StatusOr<double>> Predict(
      const std::vector<models::RawTrack>& tracks);

  std::string BackendDescription() const {
    return scheduler_->BackendDescription();
  }
  const std::string& backend_log_line() const {
    return scheduler_->BackendLogLine();
  }
  const models::Featurizer& featurizer() const {
    return scheduler_->featurizer();
  }

 private:
  explicit Optimizer(std::unique_ptr<Scheduler> scheduler)
      : scheduler_(std::move(scheduler)) {}
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_OPTIMIZER_H_
