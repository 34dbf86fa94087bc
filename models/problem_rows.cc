#include "models/problem_rows.h"

namespace nio::models {

void PackedRows::Add(const NioProblem& problem) {
  x0_.insert(x0_.end(), problem.x0.begin(), problem.x0.end());
  mask_.insert(mask_.end(), problem.mask.begin(), problem.mask.end());
  lo_.insert(lo_.end(), problem.lo.begin(), problem.lo.end());
  hi_.insert(hi_.end(), problem.hi.begin(), problem.hi.end());
  lr_.push_back(problem.lr);
  lambda_.push_back(problem.lambda);
}

kernels::NioRows PackedRows::View() const {
  return kernels::NioRows{Count(),    x0_.data(), mask_.data(),  lo_.data(),
                          hi_.data(), lr_.data(), lambda_.data()};
}

void ResultBatch::Add(const NioProblem& problem, const std::vector<float>& p,
                      int steps_run) {
  problems_.push_back(&problem);
  steps_run_.push_back(steps_run);
  const std::vector<float> x = ResultInputs(featurizer_, problem, p);
  inputs_.insert(inputs_.end(), x.begin(), x.end());
}

absl::StatusOr<std::vector<NioResult>> ResultBatch::Build(
    const PredictFn& predict) const {
  const size_t n = problems_.size();
  const size_t n_in = featurizer_.InputSize();
  std::vector<float> predictions(n * kResultInputRows);
  if (n > 0) {
    absl::Status s =
        predict(inputs_.data(), static_cast<int>(predictions.size()),
                predictions.data());
    if (!s.ok()) return s;
  }
  std::vector<NioResult> results;
  results.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    results.push_back(BuildNioResult(
        featurizer_, *problems_[i],
        inputs_.data() + i * kResultInputRows * n_in,
        predictions.data() + i * kResultInputRows, steps_run_[i]));
  }
  return results;
}

}  // namespace nio::models
