// Optimizer: the in-process NIO API. Takes raw tracks with per-track options,
// runs them through one continuous batch on a backend, and returns one outcome
// per track (a bad track fails alone). Also the plain prediction path.
//
// Thread-compatible: one call at a time (the server's scheduler serializes).
#ifndef NIO_SERVICE_OPTIMIZER_H_
#define NIO_SERVICE_OPTIMIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/backend_factory.h"
#include "models/featurizer.h"
#include "models/model.h"
#include "models/nio_problem.h"

namespace nio::service {

struct OptimizerOptions {
  kernels::BackendChoice backend = kernels::BackendChoice::kAuto;
  // Track slots sharing every step.
  int max_batch = 1024;
  // CPU threads (0 = all cores).
  int threads = 0;
};

using models::TrackRequest;

struct TrackOutcome {
  absl::Status status;        // per track: INVALID_ARGUMENT names the field
  models::NioResult result;   // valid when status is OK
};

class Optimizer {
 public:
  // model: not owned, must outlive the optimizer.
  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(
      const models::Model& model, const OptimizerOptions& options);

  // Every track gets exactly what it would get alone.
  std::vector<TrackOutcome> Optimize(const std::vector<TrackRequest>& requests);

  // f(x) per track.
  std::vector<absl::StatusOr<double>> Predict(
      const std::vector<models::RawTrack>& tracks);

  const kernels::Backend& backend() const { return *backend_; }
  const std::string& backend_log_line() const { return backend_log_line_; }
  const models::Featurizer& featurizer() const { return featurizer_; }

 private:
  Optimizer(const models::Model& model, std::unique_ptr<kernels::Backend> backend,
            std::string log_line);

  const models::Model& model_;
  models::Featurizer featurizer_;
  std::unique_ptr<kernels::Backend> backend_;
  std::string backend_log_line_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_OPTIMIZER_H_
