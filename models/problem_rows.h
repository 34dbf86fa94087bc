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
#include "kernels/slot_batch.h"
#include "models/featurizer.h"
#include "models/nio_problem.h"

namespace nio::models {

// Problems packed row after row in the layout of kernels::NioRows: each
// problem as problem.starts rows, one per start, in start order.
class PackedRows {
 public:
  void Add(const NioProblem& problem);
  int Count() const { return static_cast<int>(lr_.size()); }
  // Borrows this object's arrays: valid while it lives and is not changed.
  kernels::NioRows View() const;

 private:
  std::vector<float> x0_, lo_, hi_, lr_, lambda_, start_, target_, tolerance_;
  std::vector<uint8_t> mask_, optimizer_;
  std::vector<int> window_;
};

// A plain forward pass over rows of scaled inputs: (rows, n_in) -> (rows).
using PredictFn =
    std::function<absl::Status(const float* x, int rows, float* out)>;

// Results of tracks whose rows have all left the batch: gathers each
// track's candidate points, predicts every input their reports need in one
// pass, and answers each track with its best candidate by the NIO
// objective at the reported (clamped) point; ties go to the lower start.
//
// A row's candidates: its final point; when the track stopped on its time
// budget in projected mode, or its optimizer is L-BFGS (whose final point
// may be an untried proposal and whose best point is an accepted one), also
// the best point it was evaluated at. When any start reached the target, only
// the points that reached it (the first point on each such path) are
// candidates, and the smallest change (scaled L2 distance; ties: the objective)
// answers.
class ResultBatch {
 public:
  explicit ResultBatch(const Featurizer& featurizer)
      : featurizer_(featurizer) {}

  // problem must outlive the batch; rows: its problem.starts retired rows,
  // by start; time_budget: the track stopped on its time budget.
  void Add(const NioProblem& problem,
           const std::vector<kernels::RetiredSlot>& rows, bool time_budget);
  bool Empty() const { return tracks_.empty(); }

  // One forward pass over every candidate's inputs, then one report per Add,
  // in order. The predict error, if any, for all of them.
  absl::StatusOr<std::vector<NioResult>> Build(const PredictFn& predict) const;

 private:
  struct Candidate {
    int start;
    int steps_run;
  };
  struct Track {
    const NioProblem* problem;
    std::vector<Candidate> candidates;
    size_t first_input;  // offset of its first candidate's inputs, floats
    StopReason stop_reason;
  };
  const Featurizer& featurizer_;
  std::vector<Track> tracks_;
  std::vector<float> inputs_;  // (kResultInputRows * candidates, n_in)
};

}  // namespace nio::models

#endif  // NIO_MODELS_PROBLEM_ROWS_H_
