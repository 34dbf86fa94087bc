// Fuzz target of the tracks JSON reader (models/track_json.h), the file
// format of `nio optimize --input` and `nio batch --local`: the input is the
// file's text. Each track read is then built into its NIO problem on the
// bundled model, as the CLI's local engine does.
#include <cstdint>
#include <string>

#include "models/nio_problem.h"
#include "models/track_json.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& featurizer = nio::fuzz::BundledFeaturizer();
  auto tracks =
      nio::models::ParseTracksJson(nio::fuzz::AsString(data, size), "fuzz");
  if (!tracks.ok()) return 0;
  for (const nio::models::TrackRequest& t : *tracks) {
    NIO_FUZZ_CHECK(!t.track.id.empty(), "a track without an id");
    auto problem = nio::models::BuildNioProblem(featurizer, t.track, t.options);
    if (problem.ok()) nio::fuzz::CheckProblem(featurizer, *problem);
  }
  return 0;
}
