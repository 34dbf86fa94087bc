#include "service/http_errors.h"

#include <nlohmann/json.hpp>

namespace nio::service {

int HttpStatusFor(absl::StatusCode code) {
  using C = absl::StatusCode;
  switch (code) {
    case C::kOk:
      return 200;
    case C::kCancelled:
      return 499;
    case C::kInvalidArgument:
    case C::kFailedPrecondition:
    case C::kOutOfRange:
      return 400;
    case C::kDeadlineExceeded:
      return 504;
    case C::kNotFound:
      return 404;
    case C::kAlreadyExists:
    case C::kAborted:
      return 409;
    case C::kPermissionDenied:
      return 403;
    case C::kUnauthenticated:
      return 401;
    case C::kResourceExhausted:
      return 429;
    case C::kUnimplemented:
      return 501;
    case C::kUnavailable:
      return 503;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS
      return 500;
  }
}

absl::StatusCode StatusCodeForHttp(int http_status) {
  using C = absl::StatusCode;
  switch (http_status) {
    case 400:
      return C::kInvalidArgument;
    case 401:
      return C::kUnauthenticated;
    case 403:
      return C::kPermissionDenied;
    case 404:
    case 405:
      return C::kNotFound;
    case 408:
    case 504:
      return C::kDeadlineExceeded;
    case 413:
    case 429:
      return C::kResourceExhausted;
    case 503:
      return C::kUnavailable;
    default:
      return http_status < 400 ? C::kOk : C::kUnknown;
  }
}

std::string ErrorJson(absl::StatusCode code, const std::string& message) {
  nlohmann::json body = {{"code", static_cast<int>(code)},
                         {"status", absl::StatusCodeToString(code)},
                         {"message", message}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace nio::service
