#include "models/problem_rows.h"

#include <cmath>

#include "kernels/row_optimizer.h"
#include "kernels/row_watch.h"

namespace nio::models {

void PackedRows::Add(const NioProblem& problem) {
  for (int s = 0; s < problem.starts; ++s) {
    x0_.insert(x0_.end(), problem.x0.begin(), problem.x0.end());
    mask_.insert(mask_.end(), problem.mask.begin(), problem.mask.end());
    lo_.insert(lo_.end(), problem.lo.begin(), problem.lo.end());
    hi_.insert(hi_.end(), problem.hi.begin(), problem.hi.end());
    const size_t k = problem.mask.size();
    start_.insert(start_.end(), problem.start_points.begin() + s * k,
                  problem.start_points.begin() + (s + 1) * k);
    lr_.push_back(problem.lr);
    lambda_.push_back(problem.lambda);
    target_.push_back(problem.target.value_or(INFINITY));
    tolerance_.push_back(problem.tolerance);
    window_.push_back(problem.window);
    optimizer_.push_back(problem.optimizer == Optimizer::kLbfgs
                             ? kernels::kOptimizerLbfgs
                             : kernels::kOptimizerAdam);
  }
}

kernels::NioRows PackedRows::View() const {
  kernels::NioRows rows{Count(),    x0_.data(), mask_.data(),  lo_.data(),
                        hi_.data(), lr_.data(), lambda_.data()};
  rows.start = start_.data();
  rows.target = target_.data();
  rows.tolerance = tolerance_.data();
  rows.window = window_.data();
  rows.optimizer = optimizer_.data();
  return rows;
}

void ResultBatch::Add(const NioProblem& problem,
                      const std::vector<kernels::RetiredSlot>& rows,
                      bool time_budget) {
  Track track{&problem, {}, inputs_.size(), StopReason::kSteps};
  auto reached = [](const kernels::RetiredSlot& r) {
    return (r.info.flags & kernels::kRowReachedTarget) != 0;
  };
  bool any_reached = false;
  bool all_converged = true;
  for (const kernels::RetiredSlot& r : rows) {
    any_reached = any_reached || reached(r);
    all_converged =
        all_converged && (r.info.flags & kernels::kRowConverged) != 0;
  }
  auto add = [&](int start, const std::vector<float>& p, int steps) {
    const std::vector<float> x = ResultInputs(featurizer_, problem, p);
    inputs_.insert(inputs_.end(), x.begin(), x.end());
    track.candidates.push_back({start, steps});
  };
  for (int s = 0; s < static_cast<int>(rows.size()); ++s) {
    const kernels::RetiredSlot& r = rows[s];
    if (any_reached) {
      if (reached(r)) add(s, r.best_p, r.info.steps_done);
      continue;
    }
    add(s, r.p, r.info.steps_done);
    const bool best_too =
        (time_budget && problem.mode == NioMode::kProjected) ||
        problem.optimizer == Optimizer::kLbfgs;
    if (best_too && std::isfinite(r.best_objective)) {
      add(s, r.best_p, r.info.steps_done);
    }
  }
  track.stop_reason = any_reached     ? StopReason::kTarget
                      : time_budget   ? StopReason::kTimeBudget
                      : all_converged ? StopReason::kConverged
                                      : StopReason::kSteps;
  tracks_.push_back(std::move(track));
}

namespace {

// Whether candidate a answers before b: with a target reached, the smaller
// change; otherwise (and on ties) the lower objective.
bool Better(const NioResult& a, const NioResult& b, StopReason reason) {
  if (reason == StopReason::kTarget &&
      a.quality.distance_l2 != b.quality.distance_l2) {
    return a.quality.distance_l2 < b.quality.distance_l2;
  }
  return a.quality.objective < b.quality.objective;
}

}  // namespace

absl::StatusOr<std::vector<NioResult>> ResultBatch::Build(
    const PredictFn& predict) const {
  const size_t n_in = featurizer_.InputSize();
  const size_t rows = inputs_.size() / n_in;
  std::vector<float> predictions(rows);
  if (rows > 0) {
    absl::Status s =
        predict(inputs_.data(), static_cast<int>(rows), predictions.data());
    if (!s.ok()) return s;
  }
  std::vector<NioResult> results;
  results.reserve(tracks_.size());
  for (const Track& track : tracks_) {
    std::optional<NioResult> best;
    for (size_t c = 0; c < track.candidates.size(); ++c) {
      const size_t block = track.first_input / n_in + c * kResultInputRows;
      NioResult r = BuildNioResult(
          featurizer_, *track.problem, inputs_.data() + block * n_in,
          predictions.data() + block, track.candidates[c].steps_run);
      r.quality.winning_start = track.candidates[c].start;
      r.quality.optimizer = track.problem->optimizer;
      r.quality.starts = track.problem->starts;
      if (!best || Better(r, *best, track.stop_reason)) best = std::move(r);
    }
    best->quality.stop_reason = track.stop_reason;
    results.push_back(std::move(*best));
  }
  return results;
}

}  // namespace nio::models
