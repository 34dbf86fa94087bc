// Fuzz target of the gRPC Optimize request: the input is the bytes of a
// serialized nio.v1.OptimizeRequest, parsed as the gRPC server parses them
// (ParseFromArray), then turned into NIO problems on the bundled model and
// classed as a unary call and a stream message are (BuildTracks, AllFailed,
// ChooseJobClass).
#include <cstdint>
#include <string>
#include <unordered_set>

#include "nio/v1/nio.pb.h"
#include "tests/fuzz/request_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nio::v1::OptimizeRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  std::unordered_set<std::string> seen_ids;
  nio::fuzz::BuildRequest(request.tracks(), request.options(), &seen_ids);
  return 0;
}
