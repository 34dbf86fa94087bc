// The projected L-BFGS of one row, as a state machine that does exactly one
// model evaluation per step: each step the backend evaluates the row at its
// proposed point p (prediction and input gradient), LbfgsObserve judges that
// point and writes the next proposal into p. So rows in any phase (first
// evaluation, a trial of a line search, a backtrack) share every GEMM of the
// step with each other and with Adam rows.
//
// The objective is the NIO loss (row_watch.h's NioObjective) over the row's
// masked columns; the box [lo, hi] holds every constraint of the problem, so
// every proposal (and so every reported point) satisfies them. An iteration:
//   direction  d = -H g on the free variables (not at a bound with the
//              gradient pushing outward), H from the two-loop recursion over
//              the last kLbfgsMemory pairs (s, y), scaled by s.y / y.y of the
//              newest; 0 on the others. Falls back to -g when that is not a
//              descent direction.
//   trial      p = clamp(x + alpha d, lo, hi), alpha = 1 (with memory) or
//              min(1, 1 / |g|) (without: a first step of length 1 in scaled
//              units).
//   accept     f(p) <= f(x) + c1 g.(p - x) (Armijo on the projected step):
//              store (p - x, g(p) - g(x)) unless s.y is tiny, move to p.
//   else       halve alpha; below kLbfgsMinAlpha drop the memory and take the
//              projected gradient; when that fails too (or d already was
//              the projected gradient) the row is at a stationary point and
//              proposes x again.
// With a tolerance (the row's convergence stop) the row converges at a
// projected gradient below kLbfgsGradientTolerance, at a stationary point,
// or when `window` iterations in a row (accepted steps, and line searches
// that ended in a memory drop) each lowered the objective by at most
// tolerance * max(1, |f|). The window counts iterations, not evaluations:
// on the ReLU network's kinks a line search may take many evaluations
// before the next real gain.
//
// State: LbfgsStateWidth(cols) floats per row, laid out by LbfgsRow. All of
// it is written before it is read, starting from phase kLbfgsStart (0), so
// a slot is reset by zeroing its state.
#ifndef NIO_KERNELS_LBFGS_H_
#define NIO_KERNELS_LBFGS_H_

#include <math.h>
#include <stdint.h>

#include "kernels/host_device.h"
#include "kernels/mlp_math.h"
#include "kernels/row_watch.h"

namespace nio::kernels {

// Pairs kept (the prototype: 6 worked for 9 movable features).
inline constexpr int kLbfgsMemory = 6;
inline constexpr float kLbfgsArmijoC1 = 1e-4f;
// Backtracking halves alpha; below this the memory is dropped.
inline constexpr float kLbfgsMinAlpha = 1e-6f;
// A pair is stored only when s.y > this * y.y (curvature that is positive
// and not lost in rounding).
inline constexpr float kLbfgsCurvatureEps = 1e-8f;
// Projected-gradient inf-norm under which a row with a tolerance converged.
inline constexpr float kLbfgsGradientTolerance = 1e-5f;

// Phases (LbfgsRow::phase).
inline constexpr int kLbfgsStart = 0;       // p is the start; no accepted point
inline constexpr int kLbfgsTrial = 1;       // p is a trial along d from x
inline constexpr int kLbfgsStationary = 2;  // no descent left: p = x

// Floats per row of L-BFGS state.
NIO_HD inline int LbfgsStateWidth(int cols) {
  return (4 + 2 * kLbfgsMemory) * cols + 8;
}

// One row's state, a view of its LbfgsStateWidth(cols) floats.
struct LbfgsRow {
  float* x;   // (cols) the accepted point
  float* g;   // (cols) the objective's gradient at x (0 where unmasked)
  float* d;   // (cols) the search direction
  float* s;   // (kLbfgsMemory, cols) ring of steps
  float* y;   // (kLbfgsMemory, cols) ring of gradient changes
  float* gp;  // (cols) the objective's gradient at the evaluated point
  float* scalars;
  NIO_HD float& fx() const { return scalars[0]; }     // objective at x
  NIO_HD float& alpha() const { return scalars[1]; }  // the trial's step
  NIO_HD float& phase() const { return scalars[2]; }
  NIO_HD float& pairs() const { return scalars[3]; }  // stored, <= memory
  NIO_HD float& head() const { return scalars[4]; }   // newest pair's slot
  // 1 when d is the projected gradient (no memory behind it).
  NIO_HD float& steepest() const { return scalars[5]; }
  // Iterations in a row that gained too little (the convergence window).
  NIO_HD float& stalled() const { return scalars[6]; }

  NIO_HD static LbfgsRow At(float* state, int cols) {
    const int m = kLbfgsMemory * cols;
    return LbfgsRow{state,
                    state + cols,
                    state + 2 * cols,
                    state + 3 * cols,
                    state + 3 * cols + m,
                    state + 3 * cols + 2 * m,
                    state + 4 * cols + 2 * m};
  }
};

// The box constraints of one row, and what moves.
struct LbfgsBox {
  const uint8_t* mask;
  const float* lo;
  const float* hi;
};

// Whether column c is free at x with gradient g: not held at a bound by a
// gradient that pushes it outward.
NIO_HD inline bool LbfgsFree(const LbfgsBox& box, const float* x,
                             const float* g, int c) {
  if (!box.mask[c]) return false;
  if (x[c] <= box.lo[c] && g[c] > 0.0f) return false;
  if (x[c] >= box.hi[c] && g[c] < 0.0f) return false;
  return true;
}

// Sets st.d from st.x and st.g (see the top of the file) and st.alpha to the
// first trial's step. Returns the projected gradient's inf-norm.
NIO_HD inline float LbfgsDirection(const LbfgsRow& st, const LbfgsBox& box,
                                   int cols) {
  float pg_inf = 0.0f;
  float g_norm2 = 0.0f;
  for (int c = 0; c < cols; ++c) {
    const bool free = LbfgsFree(box, st.x, st.g, c);
    st.d[c] = free ? st.g[c] : 0.0f;  // q, the two-loop's working vector
    pg_inf = fmaxf(pg_inf, fabsf(st.d[c]));
    g_norm2 = fmaf(st.d[c], st.d[c], g_norm2);
  }
  const int pairs = static_cast<int>(st.pairs());
  const int head = static_cast<int>(st.head());
  float a[kLbfgsMemory];
  float rho[kLbfgsMemory];
  float gamma = 0.0f;
  int used = 0;
  // Newest to oldest, dot products over the free variables only.
  for (int i = 0; i < pairs; ++i) {
    const int slot = (head - i + kLbfgsMemory) % kLbfgsMemory;
    const float* s = st.s + slot * cols;
    const float* y = st.y + slot * cols;
    float sy = 0.0f, yy = 0.0f, sq = 0.0f;
    for (int c = 0; c < cols; ++c) {
      if (!LbfgsFree(box, st.x, st.g, c)) continue;
      sy = fmaf(s[c], y[c], sy);
      yy = fmaf(y[c], y[c], yy);
      sq = fmaf(s[c], st.d[c], sq);
    }
    if (!(sy > kLbfgsCurvatureEps * yy) || !(yy > 0.0f)) {
      rho[i] = 0.0f;
      a[i] = 0.0f;
      continue;
    }
    if (used == 0) gamma = sy / yy;
    ++used;
    rho[i] = 1.0f / sy;
    a[i] = rho[i] * sq;
    for (int c = 0; c < cols; ++c) {
      if (LbfgsFree(box, st.x, st.g, c)) st.d[c] = fmaf(-a[i], y[c], st.d[c]);
    }
  }
  if (used > 0) {
    for (int c = 0; c < cols; ++c) st.d[c] *= gamma;
    for (int i = pairs; i-- > 0;) {  // oldest to newest
      if (rho[i] == 0.0f) continue;
      const int slot = (head - i + kLbfgsMemory) % kLbfgsMemory;
      const float* s = st.s + slot * cols;
      const float* y = st.y + slot * cols;
      float yr = 0.0f;
      for (int c = 0; c < cols; ++c) {
        if (LbfgsFree(box, st.x, st.g, c)) yr = fmaf(y[c], st.d[c], yr);
      }
      const float b = rho[i] * yr;
      for (int c = 0; c < cols; ++c) {
        if (LbfgsFree(box, st.x, st.g, c))
          st.d[c] = fmaf(a[i] - b, s[c], st.d[c]);
      }
    }
  }
  // d = -H g; fall back to -g when it is no descent direction.
  float gd = 0.0f;
  bool finite = true;
  for (int c = 0; c < cols; ++c) {
    st.d[c] = -st.d[c];
    gd = fmaf(st.g[c], st.d[c], gd);
    finite = finite && isfinite(st.d[c]);
  }
  if (used == 0 || !finite || !(gd < 0.0f)) {
    for (int c = 0; c < cols; ++c)
      st.d[c] = LbfgsFree(box, st.x, st.g, c) ? -st.g[c] : 0.0f;
    used = 0;
  }
  st.steepest() = used > 0 ? 0.0f : 1.0f;
  st.alpha() = used > 0 ? 1.0f : fminf(1.0f, 1.0f / sqrtf(g_norm2));
  return pg_inf;
}

// p <- clamp(x + alpha d, lo, hi) on the masked columns.
NIO_HD inline void LbfgsPropose(const LbfgsRow& st, const LbfgsBox& box,
                                float* p, int cols) {
  for (int c = 0; c < cols; ++c) {
    if (!box.mask[c]) continue;
    p[c] = ClampTo(fmaf(st.alpha(), st.d[c], st.x[c]), box.lo[c], box.hi[c]);
  }
}

// Makes the evaluated point p (objective f, gradient g) the accepted x and
// computes the next direction. Returns the projected gradient's inf-norm.
NIO_HD inline float LbfgsAccept(const LbfgsRow& st, const LbfgsBox& box,
                                const float* p, const float* g, float f,
                                int cols) {
  for (int c = 0; c < cols; ++c) {
    st.x[c] = p[c];
    st.g[c] = g[c];
  }
  st.fx() = f;
  return LbfgsDirection(st, box, cols);
}

// Observes the row's evaluation at p and writes its next proposal into p.
//   p, p0, df_dp, box: (cols); df_dp = +df/dp as the backend records it.
// Returns kRowConverged when the row converged (only with tolerance > 0),
// else 0.
NIO_HD inline uint8_t LbfgsObserve(const LbfgsRow& st, const LbfgsBox& box,
                                   float* p, const float* p0,
                                   const float* df_dp, float lambda, int k,
                                   float prediction, float tolerance,
                                   int window, int cols) {
  const float f = NioObjective(p, p0, box.mask, cols, lambda, k, prediction);
  float* grad = st.gp;
  for (int c = 0; c < cols; ++c) {
    grad[c] =
        box.mask[c] ? NioLossGrad(df_dp[c], p[c], p0[c], lambda, k) : 0.0f;
  }
  const int phase = static_cast<int>(st.phase());
  float pg_inf = INFINITY;
  // One iteration ended: did it gain enough?
  auto iteration = [&](float gain, float scale) {
    const bool enough = gain > tolerance * fmaxf(1.0f, fabsf(scale));
    st.stalled() = enough ? 0.0f : st.stalled() + 1.0f;
  };
  if (phase == kLbfgsStart) {
    st.pairs() = 0.0f;
    st.head() = 0.0f;
    st.stalled() = 0.0f;
    pg_inf = LbfgsAccept(st, box, p, grad, f, cols);
  } else if (phase == kLbfgsStationary) {
    for (int c = 0; c < cols; ++c) p[c] = st.x[c];
    return tolerance > 0.0f ? kRowConverged : 0;
  } else {
    float decrease = 0.0f;  // g(x).(p - x), negative along a descent step
    for (int c = 0; c < cols; ++c)
      decrease = fmaf(st.g[c], p[c] - st.x[c], decrease);
    const float fx = st.fx();
    // Armijo on the projected step; never a higher objective (a clamp can
    // make g.(p - x) positive).
    if (isfinite(f) && f <= fminf(fx, fx + kLbfgsArmijoC1 * decrease)) {
      // The pair (s, y) into the ring only when its curvature is positive,
      // so a rejected pair never overwrites the oldest kept one.
      float sy = 0.0f, yy = 0.0f;
      for (int c = 0; c < cols; ++c) {
        const float sc = p[c] - st.x[c];
        const float yc = grad[c] - st.g[c];
        sy = fmaf(sc, yc, sy);
        yy = fmaf(yc, yc, yy);
      }
      if (sy > kLbfgsCurvatureEps * yy && yy > 0.0f) {
        const int slot = (static_cast<int>(st.head()) + 1) % kLbfgsMemory;
        float* s = st.s + slot * cols;
        float* y = st.y + slot * cols;
        for (int c = 0; c < cols; ++c) {
          s[c] = p[c] - st.x[c];
          y[c] = grad[c] - st.g[c];
        }
        st.head() = static_cast<float>(slot);
        st.pairs() = fminf(st.pairs() + 1.0f, static_cast<float>(kLbfgsMemory));
      }
      iteration(fx - f, fx);
      pg_inf = LbfgsAccept(st, box, p, grad, f, cols);
    } else {
      st.alpha() *= 0.5f;
      if (st.alpha() < kLbfgsMinAlpha) {
        if (st.steepest() == 0.0f) {
          iteration(0.0f, fx);
          st.pairs() = 0.0f;  // drop the memory: the projected gradient
          pg_inf = LbfgsDirection(st, box, cols);
        } else {
          st.phase() = static_cast<float>(kLbfgsStationary);
          for (int c = 0; c < cols; ++c) p[c] = st.x[c];
          return tolerance > 0.0f ? kRowConverged : 0;
        }
      }
    }
  }
  st.phase() = static_cast<float>(kLbfgsTrial);
  if (pg_inf == 0.0f) {
    // A stationary point of the box: nothing left to try.
    st.phase() = static_cast<float>(kLbfgsStationary);
    for (int c = 0; c < cols; ++c) p[c] = st.x[c];
    return tolerance > 0.0f ? kRowConverged : 0;
  }
  LbfgsPropose(st, box, p, cols);
  if (tolerance > 0.0f && (pg_inf <= kLbfgsGradientTolerance ||
                           st.stalled() >= static_cast<float>(window)))
    return kRowConverged;
  return 0;
}

}  // namespace nio::kernels

#endif  // NIO_KERNELS_LBFGS_H_
