// The service's handling of one optimize request (or stream message) up to
// the scheduler, as service/optimize_call.cc and optimize_stream.cc run it,
// with checks of what an OK answer promises. Shared by the fuzz targets of
// the gRPC request (bytes as the proto) and of the HTTP request path.
#ifndef NIO_TESTS_FUZZ_REQUEST_CHECKS_H_
#define NIO_TESTS_FUZZ_REQUEST_CHECKS_H_

#include <string>
#include <unordered_set>

#include "nio/v1/nio.pb.h"
#include "service/request_builder.h"
#include "tests/fuzz/fuzz_util.h"

namespace nio::fuzz {

// The default of nio-server's --interactive_max_tracks.
inline constexpr int kInteractiveMaxTracks = 16;

// BuildTracks on the bundled model, then AllFailed and ChooseJobClass as a
// unary call (interactive unless too large) and a stream message (batch)
// do; `seen_ids` carries a stream's ids from message to message.
inline void BuildRequest(
    const google::protobuf::RepeatedPtrField<nio::v1::Track>& tracks,
    const nio::v1::OptimizeOptions& options,
    std::unordered_set<std::string>* seen_ids) {
  const models::Featurizer& featurizer = BundledFeaturizer();
  auto built = service::BuildTracks(featurizer, tracks, options, seen_ids);
  if (!built.ok()) return;
  NIO_FUZZ_CHECK(built->size() == static_cast<size_t>(tracks.size()),
                 "one built track per track");
  for (int i = 0; i < tracks.size(); ++i) {
    const service::BuiltTrack& b = (*built)[i];
    NIO_FUZZ_CHECK(b.id == tracks[i].id(), "built tracks in request order");
    NIO_FUZZ_CHECK(seen_ids->count(b.id), "a built id not marked seen");
    if (b.problem.ok()) CheckProblem(featurizer, *b.problem);
  }
  if (!service::AllFailed(*built).ok()) return;
  for (auto fallback :
       {service::JobClass::kInteractive, service::JobClass::kBatch}) {
    auto job_class = service::ChooseJobClass(
        options.priority(), fallback, tracks.size(), kInteractiveMaxTracks);
    if (job_class.ok() && *job_class == service::JobClass::kInteractive) {
      NIO_FUZZ_CHECK(tracks.size() <= kInteractiveMaxTracks,
                     "an interactive call over the track limit");
    }
  }
}

}  // namespace nio::fuzz

#endif  // NIO_TESTS_FUZZ_REQUEST_CHECKS_H_
