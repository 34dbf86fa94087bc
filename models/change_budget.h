// The change budget: at most N features may differ from the original. NIO
// moves every allowed feature a little, so the first pass optimizes them all;
// when more than N moved, a second pass re-optimizes only the N that moved
// most (by change relative to the feature's realistic range) from the track
// as given, and its answer is the track's. The features outside the N never
// move in the second pass, so the reported result changes at most N.
#ifndef NIO_MODELS_CHANGE_BUDGET_H_
#define NIO_MODELS_CHANGE_BUDGET_H_

#include <optional>

#include "models/featurizer.h"
#include "models/nio_problem.h"

namespace nio::models {

// The second pass for a first pass that ended with `result`, or nullopt
// when there is none to run (no budget, within it, or already the second
// pass).
std::optional<NioProblem> ChangeBudgetPass(const Featurizer& featurizer,
                                           const NioProblem& problem,
                                           const NioResult& result);

}  // namespace nio::models

#endif  // NIO_MODELS_CHANGE_BUDGET_H_
