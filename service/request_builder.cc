#include "service/request_builder.h"

#include "absl/strings/str_cat.h"
#include "service/proto_convert.h"

namespace nio::service {

absl::StatusOr<std::vector<BuiltTrack>> BuildTracks(
    const models::Featurizer& featurizer,
    const google::protobuf::RepeatedPtrField<nio::v1::Track>& tracks,
    const nio::v1::OptimizeOptions& options,
    std::unordered_set<std::string>* seen_ids, const RequestLimits& limits) {
  if (tracks.empty()) {
    return absl::InvalidArgumentError("tracks: the request has no tracks");
  }
  if (absl::Status s = CheckTrackCount(tracks.size(), limits); !s.ok()) {
    return s;
  }
  if (options.progress_every() < 0) {
    return absl::InvalidArgumentError("options.progress_every: must be >= 0");
  }
  std::unordered_set<std::string> in_request;
  for (int i = 0; i < tracks.size(); ++i) {
    const std::string& id = tracks[i].id();
    if (id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tracks[", i, "].id: missing (every track needs an id)"));
    }
    if (!in_request.insert(id).second || seen_ids->count(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tracks[", i, "].id: duplicate id '", id, "'"));
    }
  }
  if (absl::Status s = CheckEnums(options, "options"); !s.ok()) return s;
  const models::NioOptions nio_options = FromProto(options);
  auto build = [&](const nio::v1::Track& t, const models::NioOptions& o) {
    absl::StatusOr<models::NioProblem> problem =
        models::BuildNioProblem(featurizer, FromProto(t), o);
    if (problem.ok()) {
      if (absl::Status s = CheckTrackSteps(*problem, limits); !s.ok()) {
        problem = s;
      }
    }
    return BuiltTrack{t.id(), std::move(problem)};
  };
  std::vector<BuiltTrack> built;
  built.reserve(tracks.size());
  for (const nio::v1::Track& t : tracks) {
    seen_ids->insert(t.id());
    if (!t.has_options()) {
      built.push_back(build(t, nio_options));
      continue;
    }
    // A track's own options: its problems are its own (it fails alone).
    const std::string field = absl::StrCat("track '", t.id(), "': options");
    absl::Status bad = CheckEnums(t.options(), field);
    if (bad.ok() && (t.options().progress_every() != 0 ||
                     t.options().priority() != nio::v1::PRIORITY_UNSPECIFIED)) {
      bad = absl::InvalidArgumentError(absl::StrCat(
          field, ": progress_every and priority are set on the request only"));
    }
    if (!bad.ok()) {
      built.push_back({t.id(), bad});
      continue;
    }
    nio::v1::OptimizeOptions merged = options;
    MergeTrackOptions(t.options(), &merged);
    built.push_back(build(t, FromProto(merged)));
  }
  return built;
}

absl::StatusOr<JobClass> ChooseJobClass(nio::v1::Priority priority,
                                        JobClass fallback, int tracks,
                                        int interactive_max_tracks,
                                        bool batch_only) {
  switch (priority) {
    case nio::v1::PRIORITY_UNSPECIFIED:
      return fallback == JobClass::kInteractive && !batch_only &&
                     tracks <= interactive_max_tracks
                 ? JobClass::kInteractive
                 : JobClass::kBatch;
    case nio::v1::PRIORITY_BATCH:
      return JobClass::kBatch;
    case nio::v1::PRIORITY_INTERACTIVE:
      if (batch_only) {
        return absl::PermissionDeniedError(
            "options.priority: PRIORITY_INTERACTIVE: this caller's token "
            "runs batch work only (its class in --auth_tokens); send "
            "PRIORITY_BATCH or leave priority unset");
      }
      if (tracks > interactive_max_tracks) {
        return absl::InvalidArgumentError(absl::StrCat(
            "options.priority: PRIORITY_INTERACTIVE allows at most ",
            interactive_max_tracks,
            " tracks per request on this server (--interactive_max_tracks), "
            "got ",
            tracks, "; send catalog work as PRIORITY_BATCH"));
      }
      return JobClass::kInteractive;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "options.priority: unknown value ", static_cast<int>(priority)));
  }
}

absl::Status AllFailed(const std::vector<BuiltTrack>& built) {
  for (const BuiltTrack& b : built) {
    if (b.problem.ok()) return absl::OkStatus();
  }
  return built.empty() ? absl::InvalidArgumentError("no tracks")
                       : built.front().problem.status();
}

}  // namespace nio::service
