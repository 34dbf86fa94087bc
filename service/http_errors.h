// How the HTTP port says what went wrong: the gRPC status code mapped to an
// HTTP status as grpc-gateway maps it, and a JSON body
// {"code": <gRPC code>, "status": "<NAME>", "message": "<message>"} whose
// message names the offending field, as the gRPC status does.
#ifndef NIO_SERVICE_HTTP_ERRORS_H_
#define NIO_SERVICE_HTTP_ERRORS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace nio::service {

// INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
// NOT_FOUND 404, RESOURCE_EXHAUSTED 429, CANCELLED 499, UNIMPLEMENTED 501,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, ...
int HttpStatusFor(absl::StatusCode code);

std::string ErrorJson(absl::StatusCode code, const std::string& message);

// The gRPC code of an HTTP error status this port writes itself (a body
// over the size limit, an unknown route).
absl::StatusCode StatusCodeForHttp(int http_status);

}  // namespace nio::service

#endif  // NIO_SERVICE_HTTP_ERRORS_H_
