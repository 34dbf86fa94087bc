#include "service/request_limits.h"

#include "absl/strings/str_cat.h"

namespace nio::service {

absl::Status CheckTrackCount(int tracks, const RequestLimits& limits) {
  if (tracks <= limits.max_tracks_per_request) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "tracks: ", tracks, " tracks in one message; this server takes at most ",
      limits.max_tracks_per_request,
      " (--max_tracks_per_request): send catalogs through OptimizeStream in "
      "messages of fewer tracks"));
}

int64_t TrackSteps(const models::NioProblem& problem) {
  return static_cast<int64_t>(problem.steps) * problem.starts;
}

absl::Status CheckTrackSteps(const models::NioProblem& problem,
                             const RequestLimits& limits) {
  const int64_t cost = TrackSteps(problem);
  if (cost <= limits.max_track_steps) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "track '", problem.id,
      "': options.steps x options.starts: ", problem.steps, " x ",
      problem.starts, " = ", cost, " row-steps; this server runs at most ",
      limits.max_track_steps, " per track (--max_track_steps)"));
}

}  // namespace nio::service
