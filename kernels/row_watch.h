// The per-row watch of the batched NIO step: after each step's forward pass,
// every row compares the point it was evaluated at with the best point it has
// seen (by the NIO objective) and checks its stop rules. A time budget needs
// an anytime answer (the best point so far), a target needs the first point
// that reaches it, and a convergence stop needs to know when the objective
// stopped improving; each is the same few scalar operations per row, written
// once here and run by the CPU backend and a CUDA kernel alike.
#ifndef NIO_KERNELS_ROW_WATCH_H_
#define NIO_KERNELS_ROW_WATCH_H_

#include <math.h>
#include <stdint.h>

#include "kernels/host_device.h"
#include "kernels/launch_geometry.h"

namespace nio::kernels {

// Stop flags of a row (RowWatch::flags).
// The prediction at an evaluated point reached the row's target; the best
// point is that point and stays frozen.
inline constexpr uint8_t kRowReachedTarget = 1;
// The objective improved by less than the tolerance for `window` steps.
inline constexpr uint8_t kRowConverged = 2;

// The NIO loss at p, -prediction + lambda * mean_j (p_j - p0_j)^2 over the k
// masked columns, summed in column order (the same bits in every backend).
NIO_HD inline float NioObjective(const float* p, const float* p0,
                                 const uint8_t* mask, int cols, float lambda,
                                 int k, float prediction) {
  float sum = 0.0f;
  for (int c = 0; c < cols; ++c) {
    if (!mask[c]) continue;
    const float d = p[c] - p0[c];
    sum = fmaf(d, d, sum);
  }
  const float proximity = k > 0 ? lambda * (sum / static_cast<float>(k)) : 0.0f;
  return proximity - prediction;
}

// One row's watch state and stop rules. Stop rules: target (+inf: none),
// tolerance (<= 0: no convergence stop) and window (steps).
struct RowWatch {
  float* best_p;          // (cols) the best evaluated point so far
  float* best_objective;  // +inf until the first observation
  float* best_prediction;
  int* stall;      // steps since the objective last improved enough
  uint8_t* flags;  // kRowReachedTarget | kRowConverged
  float target;
  float tolerance;
  int window;
};

// Observes the point p (cols) where this step evaluated the row, with its
// prediction and objective. Improvement counts when the objective drops by
// more than tolerance * max(1, |best|): relative for large objectives,
// absolute near zero.
NIO_HD inline void ObserveRow(const RowWatch& w, const float* p, int cols,
                              float prediction, float objective) {
  if (*w.flags & kRowReachedTarget) return;
  const float best = *w.best_objective;
  if (prediction >= w.target) {
    for (int c = 0; c < cols; ++c) w.best_p[c] = p[c];
    *w.best_objective = objective;
    *w.best_prediction = prediction;
    *w.flags |= kRowReachedTarget;
    return;
  }
  const bool enough =
      !(best < INFINITY) ||
      objective < best - fmaxf(w.tolerance, 0.0f) * fmaxf(1.0f, fabsf(best));
  if (objective < best) {
    for (int c = 0; c < cols; ++c) w.best_p[c] = p[c];
    *w.best_objective = objective;
    *w.best_prediction = prediction;
  }
  *w.stall = enough ? 0 : *w.stall + 1;
  if (w.tolerance > 0.0f && *w.stall >= w.window) *w.flags |= kRowConverged;
}

// ObserveRow over rows; one thread per row. Arrays are (rows, cols) or (rows).
// Runs after the step's forward pass and before its update, so p is the
// evaluated point.
struct RowWatchBody {
  const float* p;
  const float* p0;
  const uint8_t* mask;
  const float* lambda;
  const int* k;
  const float* prediction;
  const float* target;
  const float* tolerance;
  const int* window;
  float* best_p;
  float* best_objective;
  float* best_prediction;
  int* stall;
  uint8_t* flags;
  int rows;
  int cols;

  NIO_HD int64_t Size() const { return rows; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t r = t.Global();
    if (r >= rows) return;
    const int64_t base = r * cols;
    const float objective = NioObjective(p + base, p0 + base, mask + base, cols,
                                         lambda[r], k[r], prediction[r]);
    ObserveRow(
        RowWatch{best_p + base, best_objective + r, best_prediction + r,
                 stall + r, flags + r, target[r], tolerance[r], window[r]},
        p + base, cols, prediction[r], objective);
  }
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_ROW_WATCH_H_
