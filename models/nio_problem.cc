#include "models/nio_problem.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "kernels/mlp_math.h"
#include "models/feature_box.h"
#include "models/feature_validity.h"

namespace nio::models {
namespace {

absl::Status FieldError(const std::string& id, const std::string& field,
                        const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("track '", id, "': ", field, ": ", what));
}

}  // namespace

absl::StatusOr<NioProblem> BuildNioProblem(const Featurizer& featurizer,
                                           const RawTrack& track,
                                           const NioOptions& options) {
  const ModelSpec& spec = featurizer.Spec();
  const std::string& id = track.id;
  NioProblem problem;
  problem.id = id;

  problem.steps = options.steps.value_or(spec.defaults.steps);
  if (problem.steps <= 0 || problem.steps > kMaxSteps) {
    return FieldError(
        id, "options.steps",
        absl::StrCat("must be in [1, ", kMaxSteps, "], got ", problem.steps));
  }
  const double lr = options.lr.value_or(spec.defaults.lr);
  if (!std::isfinite(lr) || lr <= 0 || lr > 10) {
    return FieldError(id, "options.lr",
                      absl::StrCat("must be in (0, 10], got ", lr));
  }
  const double lambda = options.lambda.value_or(spec.defaults.lambda);
  if (!std::isfinite(lambda) || lambda < 0 || lambda > 1e6) {
    return FieldError(id, "options.lambda",
                      absl::StrCat("must be in [0, 1e6], got ", lambda));
  }
  problem.lr = static_cast<float>(lr);
  problem.lambda = static_cast<float>(lambda);
  problem.mode = options.mode.value_or(spec.defaults.mode);

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
          featurizer.Unscale(movable[c], problem.x0[movable[c]]);
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
    if (b.max_delta) {
      const double original = featurizer.Unscale(idx, problem.x0[idx]);
      lo = std::max(lo, original - *b.max_delta);
      hi = std::min(hi, original + *b.max_delta);
    }
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
      if (problem.raw_lo[c] == featurizer.Unscale(idx, x0)) problem.lo[c] = x0;
      if (problem.raw_hi[c] == featurizer.Unscale(idx, x0)) problem.hi[c] = x0;
      if (problem.lo[c] > problem.hi[c]) problem.lo[c] = problem.hi[c];
    }
  }
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
    r.changes.push_back(std::move(change));
  }
  return r;
}

}  // namespace nio::models
