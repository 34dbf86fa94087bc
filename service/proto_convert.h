// Conversions between the wire types (nio.v1) and the internal structs.
// Shared by the server and the client library; no validation beyond shape
// (values are checked against the model by models/).
#ifndef NIO_SERVICE_PROTO_CONVERT_H_
#define NIO_SERVICE_PROTO_CONVERT_H_

#include <string>

#include "absl/status/statusor.h"
#include "models/model_spec.h"
#include "models/nio_problem.h"
#include "nio/v1/nio.pb.h"

namespace nio::service {

nio::v1::Optimizer ToProto(models::Optimizer optimizer);
models::RawTrack FromProto(const nio::v1::Track& track);
void ToProto(const models::RawTrack& track, nio::v1::Track* out);

models::NioOptions FromProto(const nio::v1::OptimizeOptions& options);
void ToProto(const models::NioOptions& options, nio::v1::OptimizeOptions* out);
// INVALID_ARGUMENT naming `field`.mode or `field`.bounds[f].direction when a
// value is not one this build knows (proto3 keeps unknown enum values).
absl::Status CheckEnums(const nio::v1::OptimizeOptions& options,
                        const std::string& field);
// Applies a track's own options over the request's (see nio.v1.Track).
void MergeTrackOptions(const nio::v1::OptimizeOptions& track,
                       nio::v1::OptimizeOptions* options);

void ToProto(const models::ResultQuality& quality, nio::v1::TrackQuality* out);
models::ResultQuality FromProto(const nio::v1::TrackQuality& quality);

void ToProto(const models::NioResult& result, nio::v1::TrackResult* out);
models::NioResult FromProto(const nio::v1::TrackResult& result);

// The model description for GetModel.
void ToProto(const models::ModelSpec& spec, const std::string& backend,
             int max_batch, nio::v1::ModelInfo* out);

// What a client needs of a feature to check values as the server does
// (models/feature_validity.h): name, kind, mean, scale, ranges.
// INVALID_ARGUMENT for a kind this build does not know.
absl::StatusOr<models::FeatureSpec> FromProto(const nio::v1::FeatureInfo& info);

}  // namespace nio::service

#endif  // NIO_SERVICE_PROTO_CONVERT_H_
