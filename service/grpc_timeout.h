// The grpc-timeout header (gRPC over HTTP/2's deadline, which the HTTP port
// also takes): up to 8 digits and a unit, H M S m u n ("2S", "500m").
#ifndef NIO_SERVICE_GRPC_TIMEOUT_H_
#define NIO_SERVICE_GRPC_TIMEOUT_H_

#include <chrono>
#include <string_view>

#include "absl/status/statusor.h"

namespace nio::service {

// INVALID_ARGUMENT naming the header for anything else.
absl::StatusOr<std::chrono::nanoseconds> ParseGrpcTimeout(
    std::string_view value);

}  // namespace nio::service

#endif  // NIO_SERVICE_GRPC_TIMEOUT_H_
