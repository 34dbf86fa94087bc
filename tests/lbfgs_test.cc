// The projected L-BFGS row (kernels/lbfgs.h) on problems with a known
// answer: a concave quadratic "model", so the NIO objective is a convex
// quadratic whose minimizer in the box is known, driven one evaluation per
// step as the backends drive it; and RowOptimizerBody with Adam and L-BFGS
// rows side by side on the host grid.
#include "kernels/lbfgs.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/host_grid.h"
#include "kernels/mlp_math.h"
#include "kernels/row_optimizer.h"
#include "kernels/row_watch.h"

namespace nio::kernels {
namespace {

// prediction(p) = -0.5 (p - c)^T A (p - c), A symmetric positive definite.
struct Quadratic {
  int n;
  std::vector<double> a;  // (n, n)
  std::vector<double> c;  // (n)

  static Quadratic Random(int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    Quadratic q{n, std::vector<double>(n * n, 0.0), std::vector<double>(n)};
    std::vector<double> b(n * n);
    for (double& v : b) v = u(rng);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        for (int l = 0; l < n; ++l)
          q.a[i * n + j] += b[l * n + i] * b[l * n + j];
      }
      q.a[i * n + i] += 0.5 + 2.0 * (i % 3);  // condition number ~ 10-50
    }
    for (double& v : q.c) v = 2.5 * u(rng);
    return q;
  }

  float Predict(const std::vector<float>& p, std::vector<float>* df_dp) const {
    double f = 0.0;
    for (int i = 0; i < n; ++i) {
      double ai = 0.0;
      for (int j = 0; j < n; ++j) ai += a[i * n + j] * (p[j] - c[j]);
      (*df_dp)[i] = static_cast<float>(-ai);
      f += -0.5 * (p[i] - c[i]) * ai;
    }
    return static_cast<float>(f);
  }
};

// Projected gradient descent in double to a tight tolerance: the minimizer
// of the NIO objective of q in [lo, hi] (convex, so unique).
std::vector<double> BoxMinimizer(const Quadratic& q,
                                 const std::vector<float>& p0,
                                 const std::vector<float>& lo,
                                 const std::vector<float>& hi,
                                 const std::vector<uint8_t>& mask,
                                 double lambda) {
  const int n = q.n;
  int k = 0;
  for (uint8_t m : mask) k += m;
  std::vector<double> p(p0.begin(), p0.end());
  double norm = 0.0;  // a bound on the Hessian's largest eigenvalue
  for (double v : q.a) norm += v * v;
  const double step = 1.0 / (std::sqrt(norm) + 2.0 * lambda / k);
  for (int it = 0; it < 20000; ++it) {
    for (int i = 0; i < n; ++i) {
      if (!mask[i]) continue;
      double g = 2.0 * lambda / k * (p[i] - p0[i]);
      for (int j = 0; j < n; ++j) g += q.a[i * n + j] * (p[j] - q.c[j]);
      p[i] = std::clamp(p[i] - step * g, double(lo[i]), double(hi[i]));
    }
  }
  return p;
}

struct RowRun {
  std::vector<float> x;         // the accepted point at the end
  std::vector<float> accepted;  // fx after every step
  bool proposals_in_box = true;
  bool converged = false;
  int steps = 0;
};

// Drives one L-BFGS row for `steps` evaluations.
RowRun DriveRow(const Quadratic& q, const std::vector<float>& p0,
                const std::vector<float>& lo, const std::vector<float>& hi,
                const std::vector<uint8_t>& mask, float lambda, int steps,
                float tolerance) {
  const int n = q.n;
  int k = 0;
  for (uint8_t m : mask) k += m;
  std::vector<float> state(LbfgsStateWidth(n), 0.0f);
  const LbfgsRow st = LbfgsRow::At(state.data(), n);
  const LbfgsBox box{mask.data(), lo.data(), hi.data()};
  std::vector<float> p = p0, df(n);
  RowRun run;
  for (int s = 0; s < steps; ++s) {
    const float prediction = q.Predict(p, &df);
    const uint8_t flags = LbfgsObserve(st, box, p.data(), p0.data(), df.data(),
                                       lambda, k, prediction, tolerance, 5, n);
    ++run.steps;
    run.accepted.push_back(st.fx());
    for (int c = 0; c < n; ++c) {
      if (p[c] < lo[c] || p[c] > hi[c]) run.proposals_in_box = false;
      if (!mask[c] && p[c] != p0[c]) run.proposals_in_box = false;
    }
    if (flags & kRowConverged) {
      run.converged = true;
      break;
    }
  }
  run.x.assign(st.x, st.x + n);
  return run;
}

TEST(LbfgsTest, ReachesTheMinimizerInsideTheBoxInAFewSteps) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    const int n = 9;
    const Quadratic q = Quadratic::Random(n, seed);
    std::vector<float> p0(n, 0.0f), lo(n, -100.0f), hi(n, 100.0f);
    const std::vector<uint8_t> mask(n, 1);
    const float lambda = 0.1f;
    const std::vector<double> want = BoxMinimizer(q, p0, lo, hi, mask, lambda);
    const RowRun run = DriveRow(q, p0, lo, hi, mask, lambda, 60, 0.0f);
    for (int c = 0; c < n; ++c) {
      EXPECT_NEAR(run.x[c], want[c], 2e-3 * (1 + std::fabs(want[c])))
          << "seed " << seed << " column " << c;
    }
  }
}

TEST(LbfgsTest, AcceptedObjectiveNeverRisesAndProposalsStayInTheBox) {
  for (unsigned seed = 1; seed <= 40; ++seed) {
    const int n = 14;
    const Quadratic q = Quadratic::Random(n, seed);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> p0(n), lo(n), hi(n);
    std::vector<uint8_t> mask(n);
    for (int c = 0; c < n; ++c) {
      lo[c] = -1.5f + 0.5f * u(rng);
      hi[c] = 1.0f + 0.5f * u(rng);
      p0[c] = std::clamp(u(rng), lo[c], hi[c]);
      mask[c] = (c + seed) % 5 != 0;
    }
    const RowRun run = DriveRow(q, p0, lo, hi, mask, 0.1f, 80, 0.0f);
    EXPECT_TRUE(run.proposals_in_box) << "seed " << seed;
    for (size_t s = 1; s < run.accepted.size(); ++s) {
      ASSERT_LE(run.accepted[s], run.accepted[s - 1])
          << "seed " << seed << " step " << s;
    }
    // The box is active: the answer is the box-constrained minimizer.
    const std::vector<double> want = BoxMinimizer(q, p0, lo, hi, mask, 0.1);
    for (int c = 0; c < n; ++c) {
      EXPECT_NEAR(run.x[c], want[c], 5e-3)
          << "seed " << seed << " column " << c;
    }
  }
}

TEST(LbfgsTest, AToleranceStopsTheRowOnceItConverged) {
  const int n = 9;
  const Quadratic q = Quadratic::Random(n, 7);
  std::vector<float> p0(n, 0.0f), lo(n, -3.0f), hi(n, 3.0f);
  const RowRun run =
      DriveRow(q, p0, lo, hi, std::vector<uint8_t>(n, 1), 0.1f, 200, 1e-6f);
  EXPECT_TRUE(run.converged);
  EXPECT_LT(run.steps, 60);
  const RowRun without =
      DriveRow(q, p0, lo, hi, std::vector<uint8_t>(n, 1), 0.1f, 200, 0.0f);
  EXPECT_FALSE(without.converged);
  EXPECT_EQ(without.steps, 200);
}

TEST(LbfgsTest, AStartAtAStationaryPointOfTheBoxStaysThere) {
  // The model pushes every column up and every column sits at its upper
  // bound: nothing is free, the row proposes its start again.
  const int n = 4;
  Quadratic q{n, std::vector<double>(n * n, 0.0), std::vector<double>(n, 10.0)};
  for (int i = 0; i < n; ++i) q.a[i * n + i] = 1.0;
  std::vector<float> p0(n, 1.0f), lo(n, -1.0f), hi(n, 1.0f);
  const RowRun run =
      DriveRow(q, p0, lo, hi, std::vector<uint8_t>(n, 1), 0.0f, 5, 1e-4f);
  EXPECT_TRUE(run.converged);
  for (int c = 0; c < n; ++c) EXPECT_EQ(run.x[c], 1.0f);
}

// Adam and L-BFGS rows side by side in one launch: each row is exactly what
// its optimizer alone gives, at row counts that are not multiples of the
// block size.
TEST(RowOptimizerBodyTest, MixedRowsEachGetTheirOwnOptimizer) {
  for (int rows : {1, 255, 257, 900}) {
    const int cols = 9;
    const int width = LbfgsStateWidth(cols);
    const size_t size = static_cast<size_t>(rows) * cols;
    std::mt19937 rng(rows);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> p(size), p0(size), df(size), m(size), v(size), lo(size),
        hi(size);
    std::vector<uint8_t> mask(size);
    for (size_t i = 0; i < size; ++i) {
      p[i] = u(rng);
      p0[i] = u(rng);
      df[i] = 3 * u(rng);
      m[i] = 0.1f * u(rng);
      v[i] = 0.05f * (1 + u(rng));
      lo[i] = -2.0f;
      hi[i] = 2.0f;
      mask[i] = (i % 4) != 3;
    }
    std::vector<float> lr(rows, 0.05f), lambda(rows, 0.1f), prediction(rows),
        tolerance(rows, 0.0f);
    const std::vector<int> window(rows, 20);
    std::vector<int> k(rows), step(rows);
    std::vector<uint8_t> optimizer(rows), flags(rows, 0);
    std::vector<float> lbfgs(static_cast<size_t>(rows) * width, 0.0f);
    for (int r = 0; r < rows; ++r) {
      k[r] = 0;
      for (int c = 0; c < cols; ++c) k[r] += mask[r * cols + c];
      step[r] = r % 7;
      prediction[r] = 50 * u(rng);
      optimizer[r] = r % 3 == 1 ? kOptimizerLbfgs : kOptimizerAdam;
    }
    std::vector<float> want_p = p, want_m = m, want_v = v;
    std::vector<float> want_lbfgs = lbfgs;
    for (int r = 0; r < rows; ++r) {
      const size_t b = static_cast<size_t>(r) * cols;
      if (optimizer[r] == kOptimizerLbfgs) {
        LbfgsObserve(LbfgsRow::At(want_lbfgs.data() + r * width, cols),
                     LbfgsBox{&mask[b], &lo[b], &hi[b]}, &want_p[b], &p0[b],
                     &df[b], lambda[r], k[r], prediction[r], 0.0f, 20, cols);
        continue;
      }
      for (int c = 0; c < cols; ++c) {
        if (!mask[b + c]) continue;
        want_p[b + c] = NioUpdate(p[b + c], p0[b + c], df[b + c],
                                  &want_m[b + c], &want_v[b + c], step[r] + 1,
                                  lr[r], lambda[r], k[r], lo[b + c], hi[b + c]);
      }
    }
    RunElementwiseOnHost(RowOptimizerBody{
        p.data(),          p0.data(),        df.data(),     m.data(),
        v.data(),          mask.data(),      lo.data(),     hi.data(),
        lr.data(),         lambda.data(),    k.data(),      step.data(),
        prediction.data(), tolerance.data(), window.data(), optimizer.data(),
        lbfgs.data(),      flags.data(),     rows,          cols});
    for (size_t i = 0; i < size; ++i) {
      ASSERT_EQ(p[i], want_p[i]) << "rows " << rows << " element " << i;
      ASSERT_EQ(m[i], want_m[i]) << i;
      ASSERT_EQ(v[i], want_v[i]) << i;
    }
    for (size_t i = 0; i < lbfgs.size(); ++i)
      ASSERT_EQ(lbfgs[i], want_lbfgs[i]) << "rows " << rows << " state " << i;
  }
}

}  // namespace
}  // namespace nio::kernels
