#include "models/nio_problem.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/mlp_math.h"
#include "models/feature_box.h"
#include "models/feature_validity.h"
#include "models/start_points.h"

namespace nio::models {
namespace {

absl::Status FieldError(const std::string& id, const std::string& field,
                        const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("track '", id, "': ", field, ": ", what));
}

// Checks the stop rules, starts and change budget; sets them on problem.
absl::Status SetStopRules(const NioOptions& options, int movable_count,
                          NioProblem& problem) {
  const std::string& id = problem.id;
  problem.starts = options.starts.value_or(problem.starts);
  if (problem.starts < 1 || problem.starts > kMaxStarts) {
    return FieldError(
        id, "options.starts",
        absl::StrCat("must be in [1, ", kMaxStarts, "], got ", problem.starts));
  }
  if (options.target) {
    // The backend compares float predictions with it: a double beyond
    // float's range would be an infinite target.
    if (!std::isfinite(*options.target) ||
        std::abs(*options.target) > std::numeric_limits<float>::max()) {
      return FieldError(id, "options.target",
                        absl::StrCat("must be a finite number within +-",
                                     std::numeric_limits<float>::max(),
                                     ", got ", *options.target));
    }
    if (problem.mode != NioMode::kProjected) {
      return FieldError(id, "options.target",
                        "needs projected mode (reference mode reports the "
                        "post-hoc clamped final point, not the point that "
                        "reached the target)");
    }
    problem.target = static_cast<float>(*options.target);
  }
  if (options.tolerance) {
    if (!std::isfinite(*options.tolerance) || *options.tolerance < 0 ||
        *options.tolerance >= 1) {
      return FieldError(
          id, "options.tolerance",
          absl::StrCat("must be in [0, 1) (0: off), got ", *options.tolerance));
    }
    problem.tolerance = static_cast<float>(*options.tolerance);
  }
  if (options.tolerance_window && problem.tolerance <= 0) {
    return FieldError(id, "options.tolerance_window",
                      "needs options.tolerance (the convergence stop is off "
                      "without it)");
  }
  problem.window = options.tolerance_window.value_or(kDefaultConvergenceWindow);
  if (problem.window < 1 || problem.window > kMaxSteps) {
    return FieldError(
        id, "options.tolerance_window",
        absl::StrCat("must be in [1, ", kMaxSteps, "], got ", problem.window));
  }
  if (options.time_budget_ms) {
    if (*options.time_budget_ms < 1 ||
        *options.time_budget_ms > kMaxTimeBudgetMs) {
      return FieldError(id, "options.time_budget_ms",
                        absl::StrCat("must be in [1, ", kMaxTimeBudgetMs,
                                     "], got ", *options.time_budget_ms));
    }
    problem.time_budget_ms = *options.time_budget_ms;
  }
  if (options.max_changed_features) {
    if (*options.max_changed_features < 1) {
      return FieldError(id, "options.max_changed_features",
                        absl::StrCat("must be >= 1 (unset: no limit), got ",
                                     *options.max_changed_features));
    }
    // A budget no smaller than the moving features limits nothing.
    if (*options.max_changed_features < movable_count)
      problem.max_changed_features = *options.max_changed_features;
  }
  return absl::OkStatus();
}

}  // namespace

NioOptions OverrideOptions(NioOptions base, const NioOptions& over) {
  auto take = [](auto& to, const auto& from) {
    if (from) to = from;
  };
  take(base.steps, over.steps);
  take(base.lr, over.lr);
  take(base.lambda, over.lambda);
  take(base.mode, over.mode);
  take(base.starts, over.starts);
  take(base.target, over.target);
  take(base.tolerance, over.tolerance);
  take(base.tolerance_window, over.tolerance_window);
  take(base.time_budget_ms, over.time_budget_ms);
  take(base.max_changed_features, over.max_changed_features);
  take(base.optimizer, over.optimizer);
  take(base.start_pool, over.start_pool);
  if (!over.mutable_features.empty())
    base.mutable_features = over.mutable_features;
  for (const auto& [name, b] : over.bounds) base.bounds[name] = b;
  return base;
}

bool ForcedToMove(const Featurizer& featurizer, const NioProblem& problem,
                  int column) {
  const int idx = featurizer.MovableColumns()[column];
  const double original = featurizer.UnscaleShortest(idx, problem.x0[idx]);
  return original < problem.raw_lo[column] || original > problem.raw_hi[column];
}

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kSteps:
      return "steps";
    case StopReason::kTarget:
      return "target";
    case StopReason::kConverged:
      return "converged";
    case StopReason::kTimeBudget:
      return "time_budget";
    case StopReason::kCancelled:
      return "cancelled";
  }
  return "steps";
}

absl::StatusOr<NioProblem> BuildNioProblem(const Featurizer& featurizer,
                                           const RawTrack& track,
                                           const NioOptions& options) {
  const ModelSpec& spec = featurizer.Spec();
  const std::string& id = track.id;
  NioProblem problem;
  problem.id = id;

  problem.mode = options.mode.value_or(spec.defaults.mode);
  // Reference mode is the original app's Adam, exactly.
  problem.optimizer = options.optimizer.value_or(
      problem.mode == NioMode::kReference ? Optimizer::kAdam
                                          : spec.defaults.optimizer);
  if (problem.optimizer == Optimizer::kLbfgs &&
      problem.mode != NioMode::kProjected) {
    return FieldError(id, "options.optimizer",
                      "lbfgs needs projected mode (reference mode is the "
                      "original app's Adam, exactly)");
  }
  if (options.lr && problem.optimizer != Optimizer::kAdam) {
    return FieldError(id, "options.lr",
                      "is Adam's learning rate; the lbfgs optimizer has none "
                      "(its line search picks each step)");
  }
  const NioDefaults defaults = DefaultsFor(spec.defaults, problem.optimizer);
  problem.steps = options.steps.value_or(defaults.steps);
  if (problem.steps <= 0 || problem.steps > kMaxSteps) {
    return FieldError(
        id, "options.steps",
        absl::StrCat("must be in [1, ", kMaxSteps, "], got ", problem.steps));
  }
  const double lr = options.lr.value_or(spec.defaults.lr);
  if (!std::isfinite(lr) || lr < kMinLr || lr > kMaxLr) {
    return FieldError(id, "options.lr",
                      absl::StrCat("must be in (0, ", kMaxLr, "] (at least ",
                                   kMinLr, "), got ", lr));
  }
  const double lambda = options.lambda.value_or(spec.defaults.lambda);
  if (!std::isfinite(lambda) || lambda < 0 || lambda > kMaxLambda) {
    return FieldError(
        id, "options.lambda",
        absl::StrCat("must be in [0, ", kMaxLambda, "], got ", lambda));
  }
  problem.lr = static_cast<float>(lr);
  problem.lambda = static_cast<float>(lambda);

  auto x0 = featurizer.ToScaled(track);
  if (!x0.ok()) return x0.status();
  problem.x0 = std::move(*x0);

  const std::vector<int>& movable = featurizer.MovableColumns();
  const int k = static_cast<int>(movable.size());
  std::vector<int> slot_of(spec.features.size(), -1);
  for (int c = 0; c < k; ++c) slot_of[movable[c]] = c;

  problem.mask.assign(k, 0);
  if (options.mutable_features.empty()) {
    for (int c = 0; c < k; ++c) {
      problem.mask[c] = spec.features[movable[c]].mutable_by_default ? 1 : 0;
    }
  } else {
    for (const std::string& name : options.mutable_features) {
      const int idx = featurizer.FeatureIndex(name);
      if (idx < 0) {
        return FieldError(id, "options.mutable_features",
                          absl::StrCat("unknown feature '", name, "'"));
      }
      if (absl::Status s = CheckMovable(spec.features[idx]); !s.ok()) {
        return FieldError(id, "options.mutable_features",
                          std::string(s.message()));
      }
      if (problem.mask[slot_of[idx]]) {
        return FieldError(id, "options.mutable_features",
                          absl::StrCat("'", name, "' listed twice"));
      }
      problem.mask[slot_of[idx]] = 1;
    }
  }

  // The raw box before the request's bounds. Reference mode: the realistic
  // range (the original's post-hoc clamp; its steps clamp to +-3 below).
  // Projected mode: the effective box, widened to hold the original value,
  // so a track that starts outside it is never forced to move.
  problem.raw_lo.resize(k);
  problem.raw_hi.resize(k);
  for (int c = 0; c < k; ++c) {
    const FeatureSpec& f = spec.features[movable[c]];
    if (problem.mode == NioMode::kProjected) {
      const RawBox box = EffectiveBox(f);
      const double original =
          featurizer.UnscaleShortest(movable[c], problem.x0[movable[c]]);
      problem.raw_lo[c] = std::min(box.min, original);
      problem.raw_hi[c] = std::max(box.max, original);
    } else {
      problem.raw_lo[c] = f.range_min;
      problem.raw_hi[c] = f.range_max;
    }
  }
  for (const auto& [name, b] : options.bounds) {
    const std::string field = absl::StrCat("options.bounds[", name, "]");
    const int idx = featurizer.FeatureIndex(name);
    if (idx < 0) return FieldError(id, field, "unknown feature");
    const int c = slot_of[idx];
    if (c < 0 || !problem.mask[c]) {
      return FieldError(id, field, "feature does not move in this request");
    }
    for (const auto& [what, v] :
         {std::pair{"min", b.min}, std::pair{"max", b.max},
          std::pair{"max_delta", b.max_delta}}) {
      if (v && !std::isfinite(*v))
        return FieldError(id, absl::StrCat(field, ".", what), "must be finite");
    }
    if (b.min && b.max && *b.min > *b.max) {
      return FieldError(id, field,
                        absl::StrCat("min ", *b.min, " > max ", *b.max));
    }
    if (b.max_delta && *b.max_delta < 0) {
      return FieldError(id, absl::StrCat(field, ".max_delta"), "must be >= 0");
    }
    double lo = problem.raw_lo[c], hi = problem.raw_hi[c];
    if (b.min) lo = std::max(lo, *b.min);
    if (b.max) hi = std::min(hi, *b.max);
    const double original = featurizer.UnscaleShortest(idx, problem.x0[idx]);
    if (b.max_delta) {
      lo = std::max(lo, original - *b.max_delta);
      hi = std::min(hi, original + *b.max_delta);
    }
    // The original is inside the box unless min/max exclude it; a direction
    // then keeps the other side.
    if (b.direction == Direction::kIncrease) lo = std::max(lo, original);
    if (b.direction == Direction::kDecrease) hi = std::min(hi, original);
    if (lo > hi) {
      return FieldError(
          id, field,
          absl::StrCat("leaves an empty range [", lo, ", ", hi, "] with the ",
                       problem.mode == NioMode::kProjected
                           ? "effective box (realistic range and trust region)"
                           : "realistic range"));
    }
    problem.raw_lo[c] = lo;
    problem.raw_hi[c] = hi;
  }

  // The per-step box in scaled terms. Reference: +-3, as the original.
  // Projected: the raw box above (the trust region is already in it, and a
  // widening past +-3 must survive).
  problem.lo.assign(k, -kernels::kScaledClampLimit);
  problem.hi.assign(k, kernels::kScaledClampLimit);
  if (problem.mode == NioMode::kProjected) {
    for (int c = 0; c < k; ++c) {
      const int idx = movable[c];
      const float x0 = problem.x0[idx];
      problem.lo[c] = featurizer.Scale(idx, problem.raw_lo[c]);
      problem.hi[c] = featurizer.Scale(idx, problem.raw_hi[c]);
      // Where the box was widened to the original, the edge is x0 itself,
      // bit for bit (rescaling the unscaled value may round differently).
      if (problem.raw_lo[c] == featurizer.UnscaleShortest(idx, x0))
        problem.lo[c] = x0;
      if (problem.raw_hi[c] == featurizer.UnscaleShortest(idx, x0))
        problem.hi[c] = x0;
      if (problem.lo[c] > problem.hi[c]) problem.lo[c] = problem.hi[c];
    }
  }
  int moving = 0;
  for (uint8_t m : problem.mask) moving += m;
  problem.starts = defaults.starts;
  problem.start_pool = defaults.start_pool;
  if (absl::Status s = SetStopRules(options, moving, problem); !s.ok())
    return s;
  if (options.start_pool) {
    if (*options.start_pool < 0 || *options.start_pool > kMaxStartPool) {
      return FieldError(id, "options.start_pool",
                        absl::StrCat("must be in [0, ", kMaxStartPool,
                                     "] (0: off), got ", *options.start_pool));
    }
    if (*options.start_pool > 0 && problem.starts < 2) {
      return FieldError(id, "options.start_pool",
                        "needs options.starts >= 2 (start 0 is always the "
                        "track; the pool picks the others)");
    }
    if (*options.start_pool > 0 && *options.start_pool < problem.starts - 1) {
      return FieldError(
          id, "options.start_pool",
          absl::StrCat("must be at least options.starts - 1 = ",
                       problem.starts - 1, " (the pool fills starts 1..",
                       problem.starts - 1, "), got ", *options.start_pool));
    }
    problem.start_pool = *options.start_pool;
  }
  // A pool no larger than the starts it fills picks nothing.
  if (problem.start_pool < problem.starts - 1) problem.start_pool = 0;
  if (problem.max_changed_features > 0) {
    // Features whose box excludes the original must change: the budget has
    // to hold them.
    std::vector<std::string> forced;
    for (int c = 0; c < k; ++c) {
      if (problem.mask[c] && ForcedToMove(featurizer, problem, c))
        forced.push_back(spec.features[movable[c]].name);
    }
    if (static_cast<int>(forced.size()) > problem.max_changed_features) {
      return FieldError(id, "options.max_changed_features",
                        absl::StrCat(problem.max_changed_features,
                                     " is fewer than the ", forced.size(),
                                     " features whose limits exclude their "
                                     "original value (",
                                     absl::StrJoin(forced, ", "), ")"));
    }
  }
  problem.start_points = StartPoints(featurizer, problem);
  return problem;
}

std::vector<float> ResultInputs(const Featurizer& featurizer,
                                const NioProblem& problem,
                                const std::vector<float>& p) {
  const std::vector<int>& movable = featurizer.MovableColumns();
  const size_t n_in = problem.x0.size();
  std::vector<float> x(kResultInputRows * n_in);
  for (int r = 0; r < kResultInputRows; ++r) {
    std::copy(problem.x0.begin(), problem.x0.end(), x.begin() + r * n_in);
  }
  for (size_t c = 0; c < movable.size(); ++c) {
    if (!problem.mask[c]) continue;
    const int idx = movable[c];
    x[n_in + idx] = p[c];
    const double raw = std::clamp(featurizer.Unscale(idx, p[c]),
                                  problem.raw_lo[c], problem.raw_hi[c]);
    x[2 * n_in + idx] = featurizer.Scale(idx, raw);
  }
  return x;
}

NioResult BuildNioResult(const Featurizer& featurizer,
                         const NioProblem& problem, const float* result_inputs,
                         const float* predictions, int steps_run) {
  const ModelSpec& spec = featurizer.Spec();
  const std::vector<int>& movable = featurizer.MovableColumns();
  const size_t n_in = problem.x0.size();
  NioResult r;
  r.id = problem.id;
  r.prediction_before = predictions[0];
  r.prediction_raw = predictions[1];
  r.prediction_after = predictions[2];
  r.delta = r.prediction_after - r.prediction_before;
  r.quality.improved = r.prediction_after > r.prediction_before;
  r.steps_run = steps_run;
  double squares = 0;
  for (size_t c = 0; c < movable.size(); ++c) {
    if (!problem.mask[c]) continue;
    const int idx = movable[c];
    FeatureChange change;
    change.name = spec.features[idx].name;
    // Raw values at the precision the scaled floats carry (0.7, not
    // 0.699999996): what a report or a CSV should show.
    change.original = featurizer.UnscaleShortest(idx, result_inputs[idx]);
    change.optimized = std::clamp(
        featurizer.UnscaleShortest(idx, result_inputs[2 * n_in + idx]),
        problem.raw_lo[c], problem.raw_hi[c]);
    change.delta = change.optimized - change.original;
    change.unclamped =
        featurizer.UnscaleShortest(idx, result_inputs[n_in + idx]);
    const double d =
        static_cast<double>(result_inputs[2 * n_in + idx]) - result_inputs[idx];
    squares += d * d;
    const FeatureSpec& f = spec.features[idx];
    if (f.range_max > f.range_min) {
      r.quality.distance_l1 +=
          std::abs(change.delta) / (f.range_max - f.range_min);
    }
    if (change.optimized != change.original) ++r.quality.features_changed;
    r.changes.push_back(std::move(change));
  }
  const int moving = static_cast<int>(r.changes.size());
  r.quality.distance_l2 = std::sqrt(squares);
  r.quality.objective = -r.prediction_after +
                        (moving > 0 ? problem.lambda * squares / moving : 0.0);
  if (problem.target) {
    r.quality.target_reached = r.prediction_after >= *problem.target;
  }
  return r;
}

}  // namespace nio::models
