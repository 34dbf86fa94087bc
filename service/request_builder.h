// Turns the tracks and options of one request (or one stream message) into
// NIO problems, checking what is wrong with the request as a whole apart
// from what is wrong with single tracks.
#ifndef NIO_SERVICE_REQUEST_BUILDER_H_
#define NIO_SERVICE_REQUEST_BUILDER_H_

#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "models/featurizer.h"
#include "models/nio_problem.h"
#include "nio/v1/nio.pb.h"
#include "service/job.h"
#include "service/request_limits.h"

namespace nio::service {

// One track of a request: its id and its problem, or why it cannot run
// (INVALID_ARGUMENT naming the track and field).
struct BuiltTrack {
  std::string id;
  absl::StatusOr<models::NioProblem> problem;
};

// INVALID_ARGUMENT for the request as a whole: no tracks, more than
// limits.max_tracks_per_request, a track without an id, an id repeated in
// the request or already in `seen_ids` (the ids of the stream so far; new
// ids are added). Otherwise one BuiltTrack per track; a track over
// limits.max_track_steps fails alone.
absl::StatusOr<std::vector<BuiltTrack>> BuildTracks(
    const models::Featurizer& featurizer,
    const google::protobuf::RepeatedPtrField<nio::v1::Track>& tracks,
    const nio::v1::OptimizeOptions& options,
    std::unordered_set<std::string>* seen_ids,
    const RequestLimits& limits = {});

// The class of a request's tracks (see nio.v1.Priority): `fallback` when
// unspecified and the request is small enough for the interactive block
// (and the caller is not batch_only), else batch; INVALID_ARGUMENT naming
// options.priority for an unknown value or an interactive claim of more than
// interactive_max_tracks tracks, PERMISSION_DENIED for an interactive claim
// of a batch_only caller.
absl::StatusOr<JobClass> ChooseJobClass(nio::v1::Priority priority,
                                        JobClass fallback, int tracks,
                                        int interactive_max_tracks,
                                        bool batch_only = false);

// The first error when every track failed, else OK: a request whose tracks
// are all invalid is an invalid request.
absl::Status AllFailed(const std::vector<BuiltTrack>& built);

}  // namespace nio::service

#endif  // NIO_SERVICE_REQUEST_BUILDER_H_
