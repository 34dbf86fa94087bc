// One track's NIO problem in the backend's scaled terms, built from a raw
// track and per-request options, and the report built from its solution.
//
// The backend moves a fixed set of "movable columns": every non-one-hot
// feature of the model, in model order. A track's mask says which of them
// move for it (numeric features only: CheckMovable); lo/hi are the scaled
// box each step clamps to:
//   reference mode  [-3, 3] (the original app's semantics, exactly), the
//                   realistic ranges applied once after the loop (the
//                   post-hoc clamp); a value outside +-3 is pulled in by the
//                   first step, as in the original;
//   projected mode  the effective box (feature_box.h: realistic range and
//                   trust region), widened to hold the track's original
//                   value so that a track starting outside it is never
//                   forced to move, inside every step.
// Per-feature bounds, max_delta and direction then narrow the box in both
// modes.
//
// A problem runs as `starts` rows of the batch (start_points: start 0 is the
// track as given, the others feasible points from start_points.h); the best
// by the NIO objective answers (problem_rows.h). Stop rules beside the step
// count: a target (projected mode: stop at the first evaluated point that
// reaches it), a convergence stop (tolerance, tolerance_window) and a time
// budget; a change budget re-optimizes only the features that moved most
// (change_budget.h).
#ifndef NIO_MODELS_NIO_PROBLEM_H_
#define NIO_MODELS_NIO_PROBLEM_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/featurizer.h"
#include "models/model_spec.h"

namespace nio::models {

// Which way a feature may move from its original value.
enum class Direction { kAny, kIncrease, kDecrease };

// Raw-unit limits for one feature.
struct FeatureBounds {
  std::optional<double> min;
  std::optional<double> max;
  std::optional<double> max_delta;  // |optimized - original| <= max_delta
  Direction direction = Direction::kAny;
};

// Limits of the per-track options.
inline constexpr int kMaxTimeBudgetMs = 3600 * 1000;
// Convergence window when a tolerance comes without one.
inline constexpr int kDefaultConvergenceWindow = 20;

// Per-request options; unset fields take the model's defaults.
struct NioOptions {
  std::optional<int> steps;
  std::optional<double> lr;
  std::optional<double> lambda;
  std::optional<NioMode> mode;
  std::vector<std::string> mutable_features;  // empty: the model's defaults
  std::map<std::string, FeatureBounds> bounds;
  std::optional<int> starts;            // 1..kMaxStarts; default: the model's
  std::optional<double> target;         // stop when the prediction reaches it
  std::optional<double> tolerance;      // > 0: stop when the objective stalls
  std::optional<int> tolerance_window;  // steps without enough improvement
  std::optional<int> time_budget_ms;
  std::optional<int> max_changed_features;  // the change budget N
  std::optional<Optimizer> optimizer;       // projected mode only for lbfgs
  std::optional<int> start_pool;            // 0..kMaxStartPool; 0: off
};

// `over`'s options on top of `base`: each set field replaces base's,
// mutable_features as a whole when not empty, bounds per feature.
NioOptions OverrideOptions(NioOptions base, const NioOptions& over);

// A track and how to optimize it.
struct TrackRequest {
  RawTrack track;
  NioOptions options;
};

struct NioProblem {
  std::string id;
  std::vector<float> x0;               // (n_in) scaled input
  std::vector<uint8_t> mask;           // (K) over MovableColumns
  std::vector<float> lo, hi;           // (K) scaled per-step box
  std::vector<double> raw_lo, raw_hi;  // (K) the result's clamp, raw units
  float lr = 0;
  float lambda = 0;
  int steps = 0;
  NioMode mode = NioMode::kReference;
  int starts = 1;
  std::vector<float> start_points;  // (starts, K) scaled; start 0 = x0
  std::optional<float> target;
  float tolerance = 0;  // 0: no convergence stop
  int window = 0;
  int time_budget_ms = 0;        // 0: none
  int max_changed_features = 0;  // 0: no change budget
  // The change budget's second pass: only the features the first moved most
  // move (change_budget.h); its answer is final.
  bool change_budget_pass = false;
  Optimizer optimizer = Optimizer::kAdam;
  // Starts 1..starts-1 are the best of this many pool points (start_pool.h)
  // once pool_chosen; 0: the uniform start points.
  int start_pool = 0;
  bool pool_chosen = false;
};

// Validates options against the model (INVALID_ARGUMENT naming the track and
// field) and builds the problem.
absl::StatusOr<NioProblem> BuildNioProblem(const Featurizer& featurizer,
                                           const RawTrack& track,
                                           const NioOptions& options);

// Whether movable column `column` must change: its raw box [raw_lo, raw_hi]
// excludes the track's original value (a bound or a direction beyond it, or,
// in reference mode, a value outside the realistic range).
bool ForcedToMove(const Featurizer& featurizer, const NioProblem& problem,
                  int column);

struct FeatureChange {
  std::string name;
  double original = 0;
  double optimized = 0;  // after the range clamp: the suggestion
  double delta = 0;      // optimized - original
  double unclamped = 0;  // straight from the loop, before the range clamp
};

// Why a track's optimization ended.
enum class StopReason { kSteps, kTarget, kConverged, kTimeBudget, kCancelled };
const char* StopReasonName(StopReason reason);

// How good a result is.
struct ResultQuality {
  // prediction_after > prediction_before: the suggested features predict
  // higher than the original. A result that is not improved is no
  // suggestion, whatever the mode: reports say no improving change was
  // found.
  bool improved = false;
  StopReason stop_reason = StopReason::kSteps;
  int winning_start = 0;
  // The NIO objective at the reported point (lower is better):
  // -prediction_after + lambda * mean_j (p_j - p0_j)^2, scaled terms.
  double objective = 0;
  double distance_l2 = 0;  // sqrt(sum_j (p_j - p0_j)^2), scaled terms
  // sum_j |delta_j| / (range_max_j - range_min_j), raw terms.
  double distance_l1 = 0;
  int features_changed = 0;                // changes with optimized != original
  std::optional<bool> target_reached;      // set when the track had a target
  Optimizer optimizer = Optimizer::kAdam;  // what ran
  int starts = 1;
};

struct NioResult {
  std::string id;
  double prediction_before = 0;  // f(x0)
  double prediction_raw = 0;     // f(x(p)), p straight from the loop
  double prediction_after = 0;   // f(x(clamp(p))), the reported result
  double delta = 0;              // after - before
  int steps_run = 0;
  std::vector<FeatureChange> changes;  // the features that moved, model order
  ResultQuality quality;
};

// How one track's optimization ended.
struct TrackOutcome {
  absl::Status status;  // OK, or why the track has no result
  NioResult result;     // valid when status is OK
};

// How many inputs a result's report predicts: x0, x(p) and x(clamp(p)).
inline constexpr int kResultInputRows = 3;

// The kResultInputRows inputs whose predictions a result needs, row after
// row, each (n_in). p: (K) the loop's final features.
std::vector<float> ResultInputs(const Featurizer& featurizer,
                                const NioProblem& problem,
                                const std::vector<float>& p);

// The report, from ResultInputs (result_inputs: kResultInputRows * n_in
// floats) and their kResultInputRows predictions; quality's stop reason and
// winning start are the caller's to set.
NioResult BuildNioResult(const Featurizer& featurizer,
                         const NioProblem& problem, const float* result_inputs,
                         const float* predictions, int steps_run);

}  // namespace nio::models

#endif  // NIO_MODELS_NIO_PROBLEM_H_
