#include "service/proto_convert.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "models/feature_box.h"
#include "models/feature_validity.h"

namespace nio::service {

nio::v1::Optimizer ToProto(models::Optimizer optimizer) {
  return optimizer == models::Optimizer::kLbfgs ? nio::v1::OPTIMIZER_LBFGS
                                                : nio::v1::OPTIMIZER_ADAM;
}

models::RawTrack FromProto(const nio::v1::Track& track) {
  models::RawTrack t;
  t.id = track.id();
  t.genre = track.genre();
  // Sorted, so messages naming the same features behave the same.
  const std::map<std::string, double> sorted(track.features().begin(),
                                             track.features().end());
  for (const auto& [name, value] : sorted) t.features.emplace_back(name, value);
  return t;
}

void ToProto(const models::RawTrack& track, nio::v1::Track* out) {
  out->set_id(track.id);
  out->set_genre(track.genre);
  for (const auto& [name, value] : track.features)
    (*out->mutable_features())[name] = value;
}

models::NioOptions FromProto(const nio::v1::OptimizeOptions& options) {
  models::NioOptions o;
  if (options.has_steps()) o.steps = options.steps();
  if (options.has_lr()) o.lr = options.lr();
  if (options.has_lambda()) o.lambda = options.lambda();
  if (options.mode() == nio::v1::MODE_REFERENCE)
    o.mode = models::NioMode::kReference;
  if (options.mode() == nio::v1::MODE_PROJECTED)
    o.mode = models::NioMode::kProjected;
  o.mutable_features.assign(options.mutable_features().begin(),
                            options.mutable_features().end());
  for (const auto& [name, b] : options.bounds()) {
    models::FeatureBounds bounds;
    if (b.has_min()) bounds.min = b.min();
    if (b.has_max()) bounds.max = b.max();
    if (b.has_max_delta()) bounds.max_delta = b.max_delta();
    if (b.direction() == nio::v1::DIRECTION_INCREASE)
      bounds.direction = models::Direction::kIncrease;
    if (b.direction() == nio::v1::DIRECTION_DECREASE)
      bounds.direction = models::Direction::kDecrease;
    o.bounds[name] = bounds;
  }
  if (options.has_starts()) o.starts = options.starts();
  if (options.has_target()) o.target = options.target();
  if (options.has_tolerance()) o.tolerance = options.tolerance();
  if (options.has_tolerance_window())
    o.tolerance_window = options.tolerance_window();
  if (options.has_time_budget_ms()) o.time_budget_ms = options.time_budget_ms();
  if (options.has_max_changed_features())
    o.max_changed_features = options.max_changed_features();
  if (options.optimizer() == nio::v1::OPTIMIZER_ADAM)
    o.optimizer = models::Optimizer::kAdam;
  if (options.optimizer() == nio::v1::OPTIMIZER_LBFGS)
    o.optimizer = models::Optimizer::kLbfgs;
  if (options.has_start_pool()) o.start_pool = options.start_pool();
  return o;
}

absl::Status CheckEnums(const nio::v1::OptimizeOptions& options,
                        const std::string& field) {
  if (!nio::v1::Mode_IsValid(options.mode())) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".mode: unknown value ", static_cast<int>(options.mode())));
  }
  if (!nio::v1::Optimizer_IsValid(options.optimizer())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".optimizer: unknown value ",
                     static_cast<int>(options.optimizer())));
  }
  for (const auto& [name, b] : options.bounds()) {
    if (!nio::v1::Direction_IsValid(b.direction())) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".bounds[", name, "].direction: unknown value ",
                       static_cast<int>(b.direction())));
    }
  }
  return absl::OkStatus();
}

void MergeTrackOptions(const nio::v1::OptimizeOptions& track,
                       nio::v1::OptimizeOptions* options) {
  // MergeFrom replaces set scalars, merges the bounds map per key, and
  // appends repeated fields: a track's feature list replaces the request's.
  if (!track.mutable_features().empty()) options->clear_mutable_features();
  options->MergeFrom(track);
}

void ToProto(const models::NioOptions& options, nio::v1::OptimizeOptions* out) {
  if (options.steps) out->set_steps(*options.steps);
  if (options.lr) out->set_lr(*options.lr);
  if (options.lambda) out->set_lambda(*options.lambda);
  if (options.mode) {
    out->set_mode(*options.mode == models::NioMode::kProjected
                      ? nio::v1::MODE_PROJECTED
                      : nio::v1::MODE_REFERENCE);
  }
  for (const auto& f : options.mutable_features) out->add_mutable_features(f);
  for (const auto& [name, b] : options.bounds) {
    nio::v1::FeatureBounds& pb = (*out->mutable_bounds())[name];
    if (b.min) pb.set_min(*b.min);
    if (b.max) pb.set_max(*b.max);
    if (b.max_delta) pb.set_max_delta(*b.max_delta);
    if (b.direction == models::Direction::kIncrease)
      pb.set_direction(nio::v1::DIRECTION_INCREASE);
    if (b.direction == models::Direction::kDecrease)
      pb.set_direction(nio::v1::DIRECTION_DECREASE);
  }
  if (options.starts) out->set_starts(*options.starts);
  if (options.target) out->set_target(*options.target);
  if (options.tolerance) out->set_tolerance(*options.tolerance);
  if (options.tolerance_window)
    out->set_tolerance_window(*options.tolerance_window);
  if (options.time_budget_ms) out->set_time_budget_ms(*options.time_budget_ms);
  if (options.max_changed_features)
    out->set_max_changed_features(*options.max_changed_features);
  if (options.optimizer) out->set_optimizer(ToProto(*options.optimizer));
  if (options.start_pool) out->set_start_pool(*options.start_pool);
}

namespace {

// StopReason and its wire value, one row each, read both ways.
constexpr std::pair<models::StopReason, nio::v1::StopReason> kStopReasons[] = {
    {models::StopReason::kSteps, nio::v1::STOP_REASON_STEPS},
    {models::StopReason::kTarget, nio::v1::STOP_REASON_TARGET},
    {models::StopReason::kConverged, nio::v1::STOP_REASON_CONVERGED},
    {models::StopReason::kTimeBudget, nio::v1::STOP_REASON_TIME_BUDGET},
    {models::StopReason::kCancelled, nio::v1::STOP_REASON_CANCELLED},
};

}  // namespace

void ToProto(const models::ResultQuality& quality, nio::v1::TrackQuality* out) {
  out->set_improved(quality.improved);
  for (const auto& [reason, wire] : kStopReasons) {
    if (reason == quality.stop_reason) out->set_stop_reason(wire);
  }
  out->set_winning_start(quality.winning_start);
  out->set_objective(quality.objective);
  out->set_distance_l2(quality.distance_l2);
  out->set_distance_l1(quality.distance_l1);
  out->set_features_changed(quality.features_changed);
  if (quality.target_reached) out->set_target_reached(*quality.target_reached);
  out->set_optimizer(ToProto(quality.optimizer));
  out->set_starts(quality.starts);
}

models::ResultQuality FromProto(const nio::v1::TrackQuality& quality) {
  models::ResultQuality q;
  q.improved = quality.improved();
  // Unset or unknown: the steps ran out, the only reason before there were
  // others.
  for (const auto& [reason, wire] : kStopReasons) {
    if (wire == quality.stop_reason()) q.stop_reason = reason;
  }
  q.winning_start = quality.winning_start();
  q.objective = quality.objective();
  q.distance_l2 = quality.distance_l2();
  q.distance_l1 = quality.distance_l1();
  q.features_changed = quality.features_changed();
  if (quality.has_target_reached()) q.target_reached = quality.target_reached();
  // Unset: a server older than the option, which ran Adam.
  q.optimizer = quality.optimizer() == nio::v1::OPTIMIZER_LBFGS
                    ? models::Optimizer::kLbfgs
                    : models::Optimizer::kAdam;
  q.starts = std::max(1, quality.starts());
  return q;
}

void ToProto(const models::NioResult& result, nio::v1::TrackResult* out) {
  out->set_id(result.id);
  out->mutable_status()->set_code(0);
  out->set_prediction_before(result.prediction_before);
  out->set_prediction_raw(result.prediction_raw);
  out->set_prediction_after(result.prediction_after);
  out->set_delta(result.delta);
  out->set_steps_run(result.steps_run);
  ToProto(result.quality, out->mutable_quality());
  for (const models::FeatureChange& c : result.changes) {
    nio::v1::FeatureChange* pc = out->add_changes();
    pc->set_name(c.name);
    pc->set_original(c.original);
    pc->set_optimized(c.optimized);
    pc->set_delta(c.delta);
    pc->set_unclamped(c.unclamped);
  }
}

models::NioResult FromProto(const nio::v1::TrackResult& result) {
  models::NioResult r;
  r.id = result.id();
  r.prediction_before = result.prediction_before();
  r.prediction_raw = result.prediction_raw();
  r.prediction_after = result.prediction_after();
  r.delta = result.delta();
  r.steps_run = result.steps_run();
  r.quality = FromProto(result.quality());
  for (const auto& c : result.changes()) {
    r.changes.push_back(
        {c.name(), c.original(), c.optimized(), c.delta(), c.unclamped()});
  }
  return r;
}

void ToProto(const models::ModelSpec& spec, const std::string& backend,
             int max_batch, nio::v1::ModelInfo* out) {
  out->set_name(spec.name);
  out->set_version(spec.version);
  out->set_description(spec.description);
  out->set_backend(backend);
  out->set_output_name(spec.output_name);
  out->set_max_batch(max_batch);
  for (const models::FeatureSpec& f : spec.features) {
    if (f.kind == models::FeatureKind::kOneHot) continue;  // named by genre
    nio::v1::FeatureInfo* pf = out->add_features();
    pf->set_name(f.name);
    pf->set_kind(models::FeatureKindName(f.kind));
    pf->set_mean(f.mean);
    pf->set_scale(f.scale);
    pf->set_range_min(f.range_min);
    pf->set_range_max(f.range_max);
    pf->set_mutable_by_default(f.mutable_by_default);
    pf->set_description(f.description);
    const models::RawBox box = models::EffectiveBox(f);
    pf->set_box_min(box.min);
    pf->set_box_max(box.max);
    if (f.valid.min) pf->set_valid_min(*f.valid.min);
    if (f.valid.max) pf->set_valid_max(*f.valid.max);
    pf->set_valid_min_exclusive(f.valid.min_exclusive);
    pf->set_valid_max_exclusive(f.valid.max_exclusive);
    pf->set_default_value(models::DefaultRawValue(f));
  }
  for (const std::string& g : spec.categorical.values) out->add_genres(g);
  for (const models::Preset& p : spec.presets) {
    nio::v1::Preset* pp = out->add_presets();
    pp->set_name(p.name);
    pp->set_label(p.label);
    pp->set_description(p.description);
    ToProto(models::RawTrack{p.name, p.features, p.genre}, pp->mutable_track());
  }
  nio::v1::OptimizeOptions* d = out->mutable_default_options();
  d->set_steps(spec.defaults.steps);
  d->set_lr(spec.defaults.lr);
  d->set_lambda(spec.defaults.lambda);
  d->set_starts(spec.defaults.starts);
  d->set_optimizer(ToProto(spec.defaults.optimizer));
  d->set_start_pool(spec.defaults.start_pool);
  d->set_mode(spec.defaults.mode == models::NioMode::kProjected
                  ? nio::v1::MODE_PROJECTED
                  : nio::v1::MODE_REFERENCE);
  for (const models::FeatureSpec& f : spec.features) {
    if (f.mutable_by_default) d->add_mutable_features(f.name);
  }
}

absl::StatusOr<models::FeatureSpec> FromProto(
    const nio::v1::FeatureInfo& info) {
  models::FeatureSpec f;
  f.name = info.name();
  if (info.kind() == "numeric") {
    f.kind = models::FeatureKind::kNumeric;
  } else if (info.kind() == "integer") {
    f.kind = models::FeatureKind::kInteger;
  } else if (info.kind() == "binary") {
    f.kind = models::FeatureKind::kBinary;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "feature '", info.name(), "': unknown kind '", info.kind(), "'"));
  }
  f.mean = info.mean();
  f.scale = info.scale();
  f.range_min = info.range_min();
  f.range_max = info.range_max();
  f.mutable_by_default = info.mutable_by_default();
  f.description = info.description();
  if (info.has_valid_min()) f.valid.min = info.valid_min();
  if (info.has_valid_max()) f.valid.max = info.valid_max();
  f.valid.min_exclusive = info.valid_min_exclusive();
  f.valid.max_exclusive = info.valid_max_exclusive();
  return f;
}

}  // namespace nio::service
