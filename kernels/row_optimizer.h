// The per-row optimizer of the batched NIO step: after a step's forward and
// backward passes and the row watch, every row observes its evaluation and
// proposes the point the next step evaluates. Each row names its optimizer
// (Adam or the projected L-BFGS of lbfgs.h), so rows on different optimizers
// and in different phases share every GEMM of a step; the scheduler never
// knows which a row uses. One thread per row, run by the CPU backend on the
// host grid and by the CUDA backend as a kernel, with no host round trip.
#ifndef NIO_KERNELS_ROW_OPTIMIZER_H_
#define NIO_KERNELS_ROW_OPTIMIZER_H_

#include <stdint.h>

#include "kernels/host_device.h"
#include "kernels/launch_geometry.h"
#include "kernels/lbfgs.h"
#include "kernels/mlp_math.h"

namespace nio::kernels {

// A row's optimizer (NioRows::optimizer).
inline constexpr uint8_t kOptimizerAdam = 0;
inline constexpr uint8_t kOptimizerLbfgs = 1;

// p, p0, df_dp, m, v, lo, hi: (rows, cols); mask: (rows, cols) bytes;
// lr, lambda, k, step, tolerance, window: (rows); optimizer, flags: (rows)
// bytes;
// lbfgs: (rows, LbfgsStateWidth(cols)).
//   Adam   step <- step + 1, then per masked column the fused update
//          (proximity gradient, Adam with bias correction for t = step,
//          clamp to [lo, hi]): exactly NioUpdate.
//   L-BFGS step <- step + 1, then LbfgsObserve, whose convergence replaces
//          the watch's in flags (row_watch.h).
struct RowOptimizerBody {
  float* p;
  const float* p0;
  const float* df_dp;
  float* m;
  float* v;
  const uint8_t* mask;
  const float* lo;
  const float* hi;
  const float* lr;
  const float* lambda;
  const int* k;
  int* step;
  const float* prediction;
  const float* tolerance;
  const int* window;
  const uint8_t* optimizer;
  float* lbfgs;
  uint8_t* flags;
  int rows;
  int cols;

  NIO_HD int64_t Size() const { return rows; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t r = t.Global();
    if (r >= rows) return;
    const int64_t base = r * cols;
    const int step_number = ++step[r];
    if (optimizer[r] == kOptimizerLbfgs) {
      const LbfgsRow st = LbfgsRow::At(lbfgs + r * LbfgsStateWidth(cols), cols);
      // An L-BFGS row's convergence is its own (its window counts
      // iterations), not the watch's evaluation count.
      flags[r] =
          (flags[r] & ~kRowConverged) |
          LbfgsObserve(st, LbfgsBox{mask + base, lo + base, hi + base},
                       p + base, p0 + base, df_dp + base, lambda[r], k[r],
                       prediction[r], tolerance[r], window[r], cols);
      return;
    }
    for (int c = 0; c < cols; ++c) {
      const int64_t i = base + c;
      if (!mask[i]) continue;
      p[i] = NioUpdate(p[i], p0[i], df_dp[i], &m[i], &v[i], step_number, lr[r],
                       lambda[r], k[r], lo[i], hi[i]);
    }
  }
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_ROW_OPTIMIZER_H_
