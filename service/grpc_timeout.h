// The grpc-timeout header (gRPC over HTTP/2's deadline, which the HTTP port
// also takes): up to 8 digits and a unit, H M S m u n ("2S", "500m").
#ifndef NIO_SERVICE_GRPC_TIMEOUT_H_
#define NIO_SERVICE_GRPC_TIMEOUT_H_

#include <chrono>
#include <string_view>

#include "absl/status/statusor.h"

namespace nio::service {

// The longest timeout: 8 digits of hours (11,000 years) would overflow
// nanoseconds, and a deadline now + 300 years a system_clock time point; a
// longer timeout is this one, a century, which is no deadline in practice
// (as gRPC, which takes an overlong timeout as none).
inline constexpr std::chrono::hours kMaxGrpcTimeout{24 * 365 * 100};

// The timeout the header asks for, at most kMaxGrpcTimeout;
// INVALID_ARGUMENT naming the header for anything else.
absl::StatusOr<std::chrono::nanoseconds> ParseGrpcTimeout(
    std::string_view value);

}  // namespace nio::service

#endif  // NIO_SERVICE_GRPC_TIMEOUT_H_
