#include "service/grpc_timeout.h"

#include "absl/strings/str_cat.h"

namespace nio::service {

absl::StatusOr<std::chrono::nanoseconds> ParseGrpcTimeout(
    std::string_view value) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "grpc-timeout: '", std::string(value),
        "' is not 1 to 8 digits and a unit (H, M, S, m, u or n), e.g. 500m"));
  };
  if (value.size() < 2 || value.size() > 9) return bad();
  int64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return bad();
    n = n * 10 + (c - '0');
  }
  using namespace std::chrono;
  switch (value.back()) {
    case 'H':
      return duration_cast<nanoseconds>(hours(n));
    case 'M':
      return duration_cast<nanoseconds>(minutes(n));
    case 'S':
      return duration_cast<nanoseconds>(seconds(n));
    case 'm':
      return duration_cast<nanoseconds>(milliseconds(n));
    case 'u':
      return duration_cast<nanoseconds>(microseconds(n));
    case 'n':
      return nanoseconds(n);
    default:
      return bad();
  }
}

}  // namespace nio::service
