// The start pool: a track with starts K and start_pool N scores N
// deterministic pseudo-random feasible points (starts 1..N as
// start_points.h draws them) with one forward-only pass, and starts from the
// track itself plus the K-1 best of them by the NIO objective (ties: the
// lower index). Bayesian-optimization libraries pick their
// acquisition-function starts this way. The points depend on the track and
// the problem alone, so the choice is the same in every batch.
#ifndef NIO_MODELS_START_POOL_H_
#define NIO_MODELS_START_POOL_H_

#include <vector>

#include "absl/status/status.h"
#include "models/featurizer.h"
#include "models/nio_problem.h"
#include "models/problem_rows.h"

namespace nio::models {

// Problems whose starts come from their pool, chosen together in one pass.
class StartPoolBatch {
 public:
  explicit StartPoolBatch(const Featurizer& featurizer)
      : featurizer_(featurizer) {}

  // Whether the problem still needs its pool scored.
  static bool Needs(const NioProblem& problem) {
    return problem.start_pool > 0 && problem.starts > 1 && !problem.pool_chosen;
  }
  // problem must outlive Choose; adds only problems that Need it.
  void Add(NioProblem* problem);
  bool Empty() const { return problems_.empty(); }

  // One forward pass over every pool point; then sets each problem's starts
  // 1..K-1 and pool_chosen. On a predict error no problem changes.
  absl::Status Choose(const PredictFn& predict);

 private:
  const Featurizer& featurizer_;
  std::vector<NioProblem*> problems_;
  std::vector<std::vector<float>> points_;  // per problem (start_pool, K)
  std::vector<float> inputs_;               // (all pool points, n_in)
};

}  // namespace nio::models

#endif  // NIO_MODELS_START_POOL_H_
