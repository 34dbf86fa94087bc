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
  nanoseconds unit;
  switch (value.back()) {
    case 'H':
      unit = hours(1);
      break;
    case 'M':
      unit = minutes(1);
      break;
    case 'S':
      unit = seconds(1);
      break;
    case 'm':
      unit = milliseconds(1);
      break;
    case 'u':
      unit = microseconds(1);
      break;
    case 'n':
      unit = nanoseconds(1);
      break;
    default:
      return bad();
  }
  const nanoseconds longest = kMaxGrpcTimeout;
  if (n > longest / unit) return longest;
  return n * unit;
}

}  // namespace nio::service
