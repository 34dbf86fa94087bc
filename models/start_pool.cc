#include "models/start_pool.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/row_watch.h"
#include "models/start_points.h"

namespace nio::models {

void StartPoolBatch::Add(NioProblem* problem) {
  if (!Needs(*problem)) return;
  const std::vector<int>& movable = featurizer_.MovableColumns();
  const size_t k = movable.size();
  std::vector<float> points = StartPointRange(
      featurizer_, *problem, 1, problem->start_pool, problem->start_pool);
  for (int i = 0; i < problem->start_pool; ++i) {
    const size_t at = inputs_.size();
    inputs_.insert(inputs_.end(), problem->x0.begin(), problem->x0.end());
    for (size_t c = 0; c < k; ++c) inputs_[at + movable[c]] = points[i * k + c];
  }
  problems_.push_back(problem);
  points_.push_back(std::move(points));
}

absl::Status StartPoolBatch::Choose(const PredictFn& predict) {
  if (problems_.empty()) return absl::OkStatus();
  const size_t n_in = featurizer_.InputSize();
  const size_t k = featurizer_.MovableColumns().size();
  std::vector<float> predictions(inputs_.size() / n_in);
  if (absl::Status s =
          predict(inputs_.data(), static_cast<int>(predictions.size()),
                  predictions.data());
      !s.ok()) {
    return s;
  }
  size_t first = 0;
  for (size_t t = 0; t < problems_.size(); ++t) {
    NioProblem& problem = *problems_[t];
    const std::vector<float>& points = points_[t];
    const int pool = problem.start_pool;
    std::vector<float> p0(k);
    const std::vector<int>& movable = featurizer_.MovableColumns();
    for (size_t c = 0; c < k; ++c) p0[c] = problem.x0[movable[c]];
    int moving = 0;
    for (uint8_t m : problem.mask) moving += m;
    std::vector<float> objective(pool);
    for (int i = 0; i < pool; ++i) {
      objective[i] = kernels::NioObjective(
          points.data() + i * k, p0.data(), problem.mask.data(),
          static_cast<int>(k), problem.lambda, moving, predictions[first + i]);
      if (!std::isfinite(objective[i])) objective[i] = INFINITY;
    }
    std::vector<int> order(pool);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return objective[a] < objective[b]; });
    for (int s = 1; s < problem.starts; ++s) {
      std::copy_n(points.begin() + order[s - 1] * k, k,
                  problem.start_points.begin() + s * k);
    }
    problem.pool_chosen = true;
    first += pool;
  }
  return absl::OkStatus();
}

}  // namespace nio::models
