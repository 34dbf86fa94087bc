// Backend: the compute engine of the batched NIO step, one small interface
// with a CPU implementation (the reference, cpu/) and a CUDA one (cuda/).
//
// A backend owns max_rows track slots. Slot state (row-major, one row per
// track; n_in = model inputs, K = number of movable columns):
//   fixed  (rows, H1)  x0 with the movable columns zeroed, times W1^T, plus b1
//   p, p0, m, v, lo, hi (rows, K) floats; mask (rows, K) bytes
//   lr, lambda (rows) floats; k, step (rows) ints; optimizer (rows) bytes
//   lbfgs (rows, LbfgsStateWidth(K)) floats: the L-BFGS rows' state
//     (row_optimizer.h, lbfgs.h)
//   df_dp (rows, K), prediction (rows) floats: recorded by the last Step
//   watch (row_watch.h): best_p (rows, K), best_objective, best_prediction,
//     target, tolerance (rows) floats; stall, window (rows) ints; flags
//     (rows) bytes: the best point seen and the stop rules
// The movable columns are fixed when the backend is made (every feature that
// any request may move); a row's mask says which of them move for its track.
//
// Thread-compatible: one caller at a time (the scheduler owns its backend).
#ifndef NIO_KERNELS_BACKEND_H_
#define NIO_KERNELS_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/mlp_weights.h"
#include "kernels/row_moves.h"

namespace nio::kernels {

// Starting state of `count` consecutive slots. All pointers are host memory,
// row-major, borrowed for the duration of LoadRows.
struct NioRows {
  int count = 0;
  const float* x0 = nullptr;      // (count, n_in) scaled inputs
  const uint8_t* mask = nullptr;  // (count, K) 1 = this column moves
  const float* lo = nullptr;      // (count, K) scaled lower bound per step
  const float* hi = nullptr;      // (count, K) scaled upper bound per step
  const float* lr = nullptr;      // (count)
  const float* lambda = nullptr;  // (count)
  // Optional, null for the defaults:
  const float* start = nullptr;      // (count, K) first p; default x0[movable]
  const float* target = nullptr;     // (count) default +inf: no target
  const float* tolerance = nullptr;  // (count) default 0: no convergence stop
  const int* window = nullptr;       // (count) default 0
  // (count) kOptimizerAdam or kOptimizerLbfgs (row_optimizer.h); default
  // Adam. lr is Adam's only.
  const uint8_t* optimizer = nullptr;
};

// Where GatherRows copies each listed slot's state; null outputs are skipped.
struct RowReadout {
  float* p = nullptr;           // (n, K) the current movable features
  float* prediction = nullptr;  // (n) f(x(p)) recorded by the last Step
  // (n, K) the model's input gradient at the point of the last Step (where
  // prediction was taken), movable columns: df_dp[i, c] = +df/dx[movable[c]],
  // the derivative of the model output itself with respect to the scaled
  // input, as stored (not negated: the NIO loss gradient is -df_dp plus the
  // proximity term, see NioLossGrad). All K columns, whether or not the
  // row's mask moves them.
  float* df_dp = nullptr;
  // The watch (row_watch.h): the best evaluated point, its objective
  // (+inf before the first Step) and prediction, and the stop flags.
  float* best_p = nullptr;           // (n, K)
  float* best_objective = nullptr;   // (n)
  float* best_prediction = nullptr;  // (n)
  uint8_t* flags = nullptr;          // (n)
};

struct BackendOptions {
  // Track slots: the most rows one Step may run.
  int max_rows = 1024;
  // CPU worker threads (0 = hardware concurrency). Ignored by CUDA.
  int threads = 0;
  // CUDA only: allow TF32 tensor-core GEMMs (faster, ~1e-3 relative error).
  bool allow_tf32 = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu" or "cuda", with details for the start-up log line.
  virtual std::string Describe() const = 0;
  virtual int MaxRows() const = 0;
  virtual int InputSize() const = 0;
  // The movable columns (indices into the inputs), in slot column order.
  virtual const std::vector<int>& MovableColumns() const = 0;

  // Resets slots [first_row, first_row + rows.count) to the given starting
  // points: p0 = x0[movable], p = start (default p0), m = v = 0, step = 0,
  // the watch cleared, the L-BFGS state at its start phase.
  virtual absl::Status LoadRows(int first_row, const NioRows& rows) = 0;

  // Copies the whole state of each move's `from` slot into its `to` slot
  // (compaction when tracks leave the batch). The moves must pass
  // CheckRowMoves (no row both a source and a destination), which the
  // backends verify; CompactionMoves builds such a set.
  virtual absl::Status MoveRows(const std::vector<RowMove>& moves) = 0;

  // One NIO step for slots [first_row, first_row + rows): forward, input
  // gradient, the row watch at the evaluated point, then each row's
  // optimizer observes it and proposes its next point (row_optimizer.h). Also
  // records each row's prediction f(x(p)) and input gradient df/dp at the
  // start of the step, before the update (see RowReadout). Rows are
  // independent: stepping a block in several calls over disjoint ranges is the
  // same as one call over all of it.
  virtual absl::Status Step(int first_row, int rows) = 0;

  // Copies the state of the listed slots, in list order, into each output of
  // `out` that is not null (see RowReadout). prediction, df_dp and the watch
  // of a slot are meaningful only after a Step has run it since its
  // LoadRows. Reads only those rows (on a device: a gather kernel per
  // output, then one small copy each). OUT_OF_RANGE when a row is outside
  // the slots.
  virtual absl::Status GatherRows(const std::vector<int>& rows,
                                  const RowReadout& out) = 0;

  // Plain forward pass: x (rows, n_in) -> out (rows). Any number of rows.
  virtual absl::Status Predict(const float* x, int rows, float* out) = 0;

  // How many rows a Step should run to cover `rows` active rows of a block
  // whose rows after them, up to `limit`, are free slots. A backend that
  // replays captured steps rounds up to a few buckets (step_bucket.h); the
  // default runs exactly the active rows.
  virtual int StepRowsFor(int rows, int limit) const { return rows; }

  // Steps captured as a graph so far (a backend that replays captured
  // steps; 0 otherwise): under continuous batching it should stop growing
  // once every bucket has been seen.
  virtual int64_t GraphCaptures() const { return 0; }

  // OK while the backend can run. After a fault that every later call would
  // repeat (on a GPU: an illegal address, a lost device), that fault: the
  // backend is broken for good. Asked after a call failed.
  virtual absl::Status Health() const { return absl::OkStatus(); }
};

// The CPU backend, always available.
absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(
    const MlpWeights& mlp, std::vector<int> movable_columns,
    const BackendOptions& options);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_BACKEND_H_
