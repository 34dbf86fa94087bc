#include "models/change_budget.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/start_points.h"

namespace nio::models {

std::optional<NioProblem> ChangeBudgetPass(const Featurizer& featurizer,
                                           const NioProblem& problem,
                                           const NioResult& result) {
  if (problem.max_changed_features <= 0 || problem.change_budget_pass ||
      result.quality.features_changed <= problem.max_changed_features) {
    return std::nullopt;
  }
  const ModelSpec& spec = featurizer.Spec();
  const std::vector<int>& movable = featurizer.MovableColumns();
  // result.changes lists the moving features in model order, as the mask.
  struct Moved {
    size_t column;
    bool forced;  // its limits exclude the original: it must stay
    double normalized;
  };
  std::vector<Moved> moved;
  size_t change = 0;
  for (size_t c = 0; c < movable.size(); ++c) {
    if (!problem.mask[c]) continue;
    const FeatureChange& fc = result.changes[change++];
    if (fc.optimized == fc.original) continue;
    const FeatureSpec& f = spec.features[movable[c]];
    const double range = f.range_max - f.range_min;
    moved.push_back({c, ForcedToMove(featurizer, problem, static_cast<int>(c)),
                     std::abs(fc.delta) / (range > 0 ? range : 1.0)});
  }
  // Forced first (BuildNioProblem checked they fit), then the largest
  // changes; ties in model order, so the choice is deterministic.
  std::stable_sort(moved.begin(), moved.end(),
                   [](const Moved& a, const Moved& b) {
                     if (a.forced != b.forced) return a.forced;
                     return a.normalized > b.normalized;
                   });
  NioProblem pass = problem;
  pass.change_budget_pass = true;
  std::fill(pass.mask.begin(), pass.mask.end(), 0);
  for (int i = 0; i < problem.max_changed_features; ++i)
    pass.mask[moved[i].column] = 1;
  // The others keep their original value; their limits allow it (they are
  // not forced), so every constraint still holds.
  pass.start_points = StartPoints(featurizer, pass);
  pass.pool_chosen = false;  // the pool scores points of the new mask
  return pass;
}

}  // namespace nio::models
