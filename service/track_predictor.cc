#include "service/track_predictor.h"

#include <memory>

namespace nio::service {

void PredictTracks(Scheduler& scheduler,
                   const std::vector<models::RawTrack>& tracks,
                   std::function<void(TrackPredictions)> done) {
  auto out = std::make_shared<TrackPredictions>(tracks.size(), 0.0);
  auto rows =
      std::make_shared<std::vector<size_t>>();  // track index per input row
  std::vector<float> inputs;
  for (size_t i = 0; i < tracks.size(); ++i) {
    auto x = scheduler.featurizer().ToScaled(tracks[i]);
    if (!x.ok()) {
      (*out)[i] = x.status();
      continue;
    }
    inputs.insert(inputs.end(), x->begin(), x->end());
    rows->push_back(i);
  }
  if (rows->empty()) {
    done(std::move(*out));
    return;
  }
  scheduler.Predict(std::move(inputs), static_cast<int>(rows->size()),
                    [out, rows, done = std::move(done)](
                        absl::StatusOr<std::vector<float>> predictions) {
                      for (size_t j = 0; j < rows->size(); ++j) {
                        (*out)[(*rows)[j]] =
                            predictions.ok()
                                ? absl::StatusOr<double>((*predictions)[j])
                                : absl::StatusOr<double>(predictions.status());
                      }
                      done(std::move(*out));
                    });
}

}  // namespace nio::service
