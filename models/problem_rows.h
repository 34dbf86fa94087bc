// The bridge between NIO problems and the backend's slot rows: packing
// problems into the row layout a backend loads, and turning the rows a batch
// retires back into results. The scheduler only moves slots; what a row
// means lives here.
#ifndef NIO_MODELS_PROBLEM_ROWS_H_
#define NIO_MODELS_PROBLEM_ROWS_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "models/featurizer.h"
#include "models/nio_problem.h"

namespace nio::models {

// Problems packed row after row in the layout of kernels::NioRows.
class PackedRows {
 public:
  void Add(const NioProblem& problem);
  int Count() const { return static_cast<int>(lr_.size()); }
  // Borrows this object's arrays: valid while it lives and is not changed.
  kernels::NioRows View() const;

 private:
  std::vector<float> x0_, lo_, hi_, lr_, lambda_;
  std::vector<uint8_t> mask_;
};

// A plain forward pass over rows of scaled inputs: (rows, n_in) -> (rows).
using PredictFn =
    std::function<absl::Status(const float* x, int rows, float* out)>;

// Results of tracks that ran their steps: collects each track's final
// features, predicts every input its report needs in one pass, and builds
// the reports.
class ResultBatch {
 public:
  explicit ResultBatch(const Featurizer& featurizer)
      : featurizer_(featurizer) {}

  // problem must outlive the batch; p: (K) the loop's final features.
  void Add(const NioProblem& problem, const std::vector<float>& p,
           int steps_run);
  bool Empty() const { return problems_.empty(); }

  // One forward pass over every result's inputs, then one report per Add, in
  // order. The predict error, if any, for all of them.
  absl::StatusOr<std::vector<NioResult>> Build(const PredictFn& predict) const;

 private:
  const Featurizer& featurizer_;
  std::vector<const NioProblem*> problems_;
  std::vector<int> steps_run_;
  std::vector<float> inputs_;  // (kResultInputRows * Add calls, n_in)
};

}  // namespace nio::models

#endif  // NIO_MODELS_PROBLEM_ROWS_H_
