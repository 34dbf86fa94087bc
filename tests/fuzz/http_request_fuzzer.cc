// Fuzz target of the HTTP request path (service/http_json_api.cc) without a
// server: the input is the route's path, a newline, the grpc-timeout
// header's value (empty: no header), a newline, then the body. The body is
// parsed as the route's handler parses it (http_json_body.h), the header as
// SetUpContext does, and the request message then goes where the gRPC
// service takes it: Predict's tracks to the featurizer, Optimize's and each
// stream message's to BuildTracks (request_checks.h).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "nio/v1/nio.pb.h"
#include "service/grpc_timeout.h"
#include "service/http_json_body.h"
#include "service/proto_convert.h"
#include "tests/fuzz/request_checks.h"

namespace {

// Cuts `input` at its first newline: the part before, and the rest after.
std::string_view NextLine(std::string_view* input) {
  const size_t end = input->find('\n');
  const std::string_view line = input->substr(0, end);
  input->remove_prefix(end == std::string_view::npos ? input->size() : end + 1);
  return line;
}

void CheckTimeout(std::string_view value) {
  if (value.empty()) return;
  auto timeout = nio::service::ParseGrpcTimeout(value);
  if (!timeout.ok()) return;
  // SetUpContext sets the deadline now + timeout: it must not overflow.
  using Clock = std::chrono::system_clock;
  const auto left = Clock::time_point::max() - Clock::now();
  NIO_FUZZ_CHECK(
      timeout->count() >= 0 &&
          *timeout <=
              std::chrono::duration_cast<std::chrono::nanoseconds>(left),
      "grpc-timeout past what a deadline can hold");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view path = NextLine(&input);
  CheckTimeout(NextLine(&input));
  const std::string_view body = input;

  if (path == "/v1/model") {
    nio::v1::GetModelRequest request;
    if (!nio::service::ParseJsonBody(body, &request).ok()) return 0;
  } else if (path == "/v1/predict") {
    nio::v1::PredictRequest request;
    if (!nio::service::ParseJsonBody(body, &request).ok()) return 0;
    const auto& featurizer = nio::fuzz::BundledFeaturizer();
    for (const nio::v1::Track& t : request.tracks()) {
      auto x = featurizer.ToScaled(nio::service::FromProto(t));
      if (x.ok()) nio::fuzz::CheckScaled(featurizer, *x);
    }
  } else if (path == "/v1/optimize") {
    nio::v1::OptimizeRequest request;
    if (!nio::service::ParseJsonBody(body, &request).ok()) return 0;
    std::unordered_set<std::string> seen_ids;
    nio::fuzz::BuildRequest(request.tracks(), request.options(), &seen_ids);
  } else if (path == "/v1/optimize/stream") {
    std::vector<nio::v1::OptimizeStreamRequest> messages;
    if (!nio::service::ParseStreamBody(body, &messages).ok()) return 0;
    NIO_FUZZ_CHECK(!messages.empty(), "an OK stream body without messages");
    std::unordered_set<std::string> seen_ids;  // the stream's
    for (const nio::v1::OptimizeStreamRequest& m : messages) {
      nio::fuzz::BuildRequest(m.tracks(), m.options(), &seen_ids);
    }
  }
  return 0;
}
