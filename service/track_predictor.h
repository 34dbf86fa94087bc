// Featurize-then-predict for raw tracks, on a scheduler's backend.
#ifndef NIO_SERVICE_TRACK_PREDICTOR_H_
#define NIO_SERVICE_TRACK_PREDICTOR_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "models/featurizer.h"
#include "service/scheduler.h"

namespace nio::service {

using TrackPredictions = std::vector<absl::StatusOr<double>>;

// f(x) of every track, in order: a track that cannot be featurized fails
// alone (INVALID_ARGUMENT naming it); the valid ones run in one forward
// pass between two steps, and a backend failure fails them all. `done` runs
// on the batching thread, or at once when no track is valid or the
// scheduler is stopping.
void PredictTracks(Scheduler& scheduler,
                   const std::vector<models::RawTrack>& tracks,
                   std::function<void(TrackPredictions)> done);

}  // namespace nio::service

#endif  // NIO_SERVICE_TRACK_PREDICTOR_H_
