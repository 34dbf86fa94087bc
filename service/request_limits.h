// What one request, and one caller, may cost the server. Each limit is a
// flag of nio-server; a request over one is refused with the flag named, so
// the caller knows what to change (or whom to ask).
#ifndef NIO_SERVICE_REQUEST_LIMITS_H_
#define NIO_SERVICE_REQUEST_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "models/nio_problem.h"

namespace nio::service {

struct RequestLimits {
  // Tracks in one Optimize or Predict request, or one stream message
  // (INVALID_ARGUMENT beyond: catalogs go through OptimizeStream, in
  // messages of any number up to this).
  int max_tracks_per_request = 1000;
  // steps x starts of one track (INVALID_ARGUMENT beyond).
  int64_t max_track_steps = 1000000;
  // steps x starts of all of a caller's tracks queued or running
  // (RESOURCE_EXHAUSTED beyond: retry when some have been answered).
  int64_t max_caller_track_steps = 50000000;
  // OptimizeStream calls one caller has open (RESOURCE_EXHAUSTED beyond).
  int max_streams_per_caller = 256;
  // Progress events one stream is sent per second; the rest are dropped
  // (results never are) and counted in nio_progress_events_dropped_total.
  double max_progress_events_per_s = 1000;
};

// INVALID_ARGUMENT naming --max_tracks_per_request.
absl::Status CheckTrackCount(int tracks, const RequestLimits& limits);

// steps x starts of the problem (both passes of a change budget count once:
// the second is bounded by the first).
int64_t TrackSteps(const models::NioProblem& problem);

// INVALID_ARGUMENT "track 'ID': options.steps x options.starts: ..." naming
// --max_track_steps.
absl::Status CheckTrackSteps(const models::NioProblem& problem,
                             const RequestLimits& limits);

}  // namespace nio::service

#endif  // NIO_SERVICE_REQUEST_LIMITS_H_
