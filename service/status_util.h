// The one place where absl::Status becomes grpc::Status (and back): the
// canonical codes share their numbers, so the mapping keeps code and message.
#ifndef NIO_SERVICE_STATUS_UTIL_H_
#define NIO_SERVICE_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "nio/v1/nio.pb.h"

namespace nio::service {

grpc::Status ToGrpcStatus(const absl::Status& status);
// A message over gRPC's size limit gets a hint naming --max_message_bytes
// (gRPC's own text names no flag).
absl::Status FromGrpcStatus(const grpc::Status& status);
// RESOURCE_EXHAUSTED from gRPC itself: a message over the size limit.
bool IsMessageSizeError(const grpc::Status& status);

// A per-track status for responses.
void SetTrackStatus(const absl::Status& status, nio::v1::TrackStatus* out);
absl::Status FromTrackStatus(const nio::v1::TrackStatus& status);

}  // namespace nio::service

#endif  // NIO_SERVICE_STATUS_UTIL_H_
