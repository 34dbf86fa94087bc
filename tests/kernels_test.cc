// Numerics: scalar math, kernel bodies through the host grid executor, GEMM
// descriptors through cblas, and the CPU backend's gradient and step.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "kernels/elementwise.h"
#include "kernels/gemm_args.h"
#include "kernels/host_grid.h"
#include "kernels/launch_geometry.h"
#include "kernels/mlp_math.h"
#include "kernels/row_optimizer.h"
#include "kernels/row_watch.h"
#include "kernels/slot_state.h"
#include "tests/cblas_gemm.h"
#include "tests/test_util.h"

namespace nio::kernels {
namespace {

using nio::testing::AllClose;
using nio::testing::RandomFloats;

// Sizes that are not multiples of the block size, as STYLE.md asks.
const int kSizes[] = {1, 255, 257, 1000};

// ---------------------------------------------------------------- scalar math

TEST(MlpMathTest, AdamMatchesTorchFormulaInDouble) {
  // torch.optim.Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
  // p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
  float p = 0.3f, m = 0, v = 0;
  double pd = 0.3, md = 0, vd = 0;
  const double grads[] = {0.5, -1.25, 2.0, 0.001, -0.3, 0.0, 7.0};
  int t = 0;
  for (double g : grads) {
    ++t;
    p = AdamStep(p, static_cast<float>(g), &m, &v, t, 0.05f);
    md = 0.9 * md + 0.1 * g;
    vd = 0.999 * vd + 0.001 * g * g;
    pd -= 0.05 / (1 - std::pow(0.9, t)) * md /
          (std::sqrt(vd) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8);
    EXPECT_NEAR(p, pd, 1e-6) << "step " << t;
  }
}

TEST(MlpMathTest, FirstAdamStepMovesByLrAgainstTheGradientSign) {
  float m = 0, v = 0;
  EXPECT_NEAR(AdamStep(1.0f, 4.0f, &m, &v, 1, 0.05f), 0.95f, 1e-6);
  m = v = 0;
  EXPECT_NEAR(AdamStep(1.0f, -0.001f, &m, &v, 1, 0.05f), 1.05f, 1e-5);
}

TEST(MlpMathTest, ProximityGradIsTheDerivativeOfTheMeanSquare) {
  // d/dp_j lambda * mean((p - p0)^2) over k = 4 dims.
  EXPECT_FLOAT_EQ(ProximityGrad(1.5f, 0.5f, 0.1f, 4), 2 * 0.1f / 4 * 1.0f);
  EXPECT_FLOAT_EQ(ProximityGrad(1.5f, 0.5f, 0.1f, 0), 0.0f);
  EXPECT_FLOAT_EQ(NioLossGrad(2.0f, 0.5f, 0.5f, 0.1f, 3), -2.0f);
}

TEST(MlpMathTest, ReluAndClamp) {
  EXPECT_EQ(Relu(-1.0f), 0.0f);
  EXPECT_EQ(Relu(2.5f), 2.5f);
  EXPECT_EQ(ReluBackward(3.0f, 0.0f), 0.0f);
  EXPECT_EQ(ReluBackward(3.0f, 0.1f), 3.0f);
  EXPECT_EQ(ClampTo(5.0f, -3.0f, 3.0f), 3.0f);
  EXPECT_EQ(ClampTo(-5.0f, -3.0f, 3.0f), -3.0f);
  EXPECT_EQ(ClampTo(0.5f, -3.0f, 3.0f), 0.5f);
}

// ------------------------------------------------------------ launch geometry

TEST(LaunchGeometryTest, CoversEveryElementOnce) {
  for (int n : {0, 1, 255, 256, 257, 1000}) {
    const LaunchGeometry g = ElementwiseGeometry(n);
    EXPECT_GE(int64_t{g.blocks} * g.block_size, n);
    EXPECT_LT(int64_t{g.blocks - 1} * g.block_size, std::max(n, 1));
  }
  EXPECT_EQ(ElementwiseGeometry(0).blocks, 0);
}

// --------------------------------------------------------------- kernel bodies
// Each body runs through RunOnHost on buffers with a guard zone after the end:
// a missing bounds check writes into the guard and fails the test.

constexpr float kGuard = 12345.0f;
constexpr int kGuardSize = 300;

std::vector<float> WithGuard(std::vector<float> v) {
  v.insert(v.end(), kGuardSize, kGuard);
  return v;
}

void ExpectGuardIntact(const std::vector<float>& v, size_t n) {
  for (size_t i = n; i < v.size(); ++i) {
    ASSERT_EQ(v[i], kGuard) << "write past the end at " << i - n;
  }
}

TEST(ElementwiseBodyTest, BiasActivationMatchesNaiveLoop) {
  for (int n : kSizes) {
    for (bool relu : {true, false}) {
      for (bool per_row : {false, true}) {
        const int cols = 7;
        const int rows = (n + cols - 1) / cols;
        const size_t size = static_cast<size_t>(rows) * cols;
        auto z = WithGuard(RandomFloats(size, n));
        const auto bias = RandomFloats(per_row ? size : cols, n + 1);
        std::vector<float> expected(size);
        for (int r = 0; r < rows; ++r) {
          for (int c = 0; c < cols; ++c) {
            const float v =
                z[r * cols + c] + bias[(per_row ? r * cols : 0) + c];
            expected[r * cols + c] = relu ? std::max(v, 0.0f) : v;
          }
        }
        RunElementwiseOnHost(BiasActivationBody{
            z.data(), bias.data(), rows, cols, per_row ? cols : 0, relu});
        EXPECT_TRUE(AllClose(std::vector<float>(z.begin(), z.begin() + size),
                             expected, 0, 0))
            << "n=" << n << " relu=" << relu << " per_row=" << per_row;
        ExpectGuardIntact(z, size);
      }
    }
  }
}

TEST(ElementwiseBodyTest, ReluBackwardMatchesNaiveLoop) {
  for (int n : kSizes) {
    auto grad = WithGuard(RandomFloats(n, 3 * n));
    const auto h = RandomFloats(n, 5 * n, -0.5f, 1.0f);
    std::vector<float> expected(n);
    for (int i = 0; i < n; ++i) expected[i] = h[i] > 0 ? grad[i] : 0.0f;
    RunElementwiseOnHost(ReluBackwardBody{grad.data(), h.data(), n});
    EXPECT_TRUE(AllClose(std::vector<float>(grad.begin(), grad.begin() + n),
                         expected, 0, 0))
        << "n=" << n;
    ExpectGuardIntact(grad, n);
  }
}

TEST(ElementwiseBodyTest, Fill) {
  for (int n : kSizes) {
    auto x = WithGuard(std::vector<float>(n, 0.0f));
    RunElementwiseOnHost(FillBody{x.data(), 1.0f, n});
    for (int i = 0; i < n; ++i) ASSERT_EQ(x[i], 1.0f) << i;
    ExpectGuardIntact(x, n);
  }
}

TEST(ElementwiseBodyTest, AdamRowsMatchTheNaiveLoop) {
  for (int n : kSizes) {
    const int cols = 9;
    const int rows = (n + cols - 1) / cols;
    const size_t size = static_cast<size_t>(rows) * cols;
    auto p = WithGuard(RandomFloats(size, n, -4, 4));
    const auto p0 = RandomFloats(size, n + 1);
    const auto df = RandomFloats(size, n + 2, -3, 3);
    auto m = WithGuard(RandomFloats(size, n + 3, -0.1f, 0.1f));
    auto v = WithGuard(RandomFloats(size, n + 4, 0.0f, 0.1f));
    std::vector<uint8_t> mask(size);
    for (size_t i = 0; i < size; ++i) mask[i] = (i % 3) != 1;
    const auto lo = RandomFloats(size, n + 5, -3, -1);
    const auto hi = RandomFloats(size, n + 6, 1, 3);
    const auto lr = RandomFloats(rows, n + 7, 0.01f, 0.1f);
    const auto lambda = RandomFloats(rows, n + 8, 0.0f, 1.0f);
    // The body advances each row's step first, then updates with it.
    std::vector<int> k(rows), step(rows + kGuardSize, -7);
    for (int r = 0; r < rows; ++r) {
      k[r] = 1 + r % cols;
      step[r] = r % 300;
    }
    std::vector<float> ep(p.begin(), p.begin() + size),
        em(m.begin(), m.begin() + size), ev(v.begin(), v.begin() + size);
    for (size_t i = 0; i < size; ++i) {
      if (!mask[i]) continue;
      const int r = static_cast<int>(i / cols);
      // Spelled out from DESIGN.md, in double.
      const double g =
          -double(df[i]) + 2.0 * lambda[r] / k[r] * (double(p[i]) - p0[i]);
      const double mm = 0.9 * m[i] + 0.1 * g;
      const double vv = 0.999 * v[i] + 0.001 * g * g;
      double pp = p[i] - lr[r] / (1 - std::pow(0.9, step[r] + 1)) * mm /
                             (std::sqrt(vv) /
                                  std::sqrt(1 - std::pow(0.999, step[r] + 1)) +
                              1e-8);
      pp = std::min<double>(std::max<double>(pp, lo[i]), hi[i]);
      ep[i] = static_cast<float>(pp);
      em[i] = static_cast<float>(mm);
      ev[i] = static_cast<float>(vv);
    }
    const std::vector<float> prediction(rows, 0.0f), tolerance(rows, 0.0f);
    const std::vector<int> window(rows, 20);
    const std::vector<uint8_t> optimizer(rows, kOptimizerAdam);
    std::vector<float> lbfgs;  // no L-BFGS rows: never read
    std::vector<uint8_t> flags(rows, 0);
    RunElementwiseOnHost(RowOptimizerBody{
        p.data(),          p0.data(),        df.data(),     m.data(),
        v.data(),          mask.data(),      lo.data(),     hi.data(),
        lr.data(),         lambda.data(),    k.data(),      step.data(),
        prediction.data(), tolerance.data(), window.data(), optimizer.data(),
        lbfgs.data(),      flags.data(),     rows,          cols});
    for (int r = 0; r < rows; ++r) ASSERT_EQ(step[r], r % 300 + 1) << r;
    for (int r = rows; r < rows + kGuardSize; ++r)
      ASSERT_EQ(step[r], -7) << "past end " << r;
    for (int r = 0; r < rows; ++r) ASSERT_EQ(flags[r], 0) << r;
    EXPECT_TRUE(AllClose(std::vector<float>(p.begin(), p.begin() + size), ep,
                         1e-5, 1e-5))
        << "n=" << n;
    EXPECT_TRUE(AllClose(std::vector<float>(m.begin(), m.begin() + size), em,
                         1e-6, 1e-5))
        << "n=" << n;
    EXPECT_TRUE(AllClose(std::vector<float>(v.begin(), v.begin() + size), ev,
                         1e-7, 1e-5))
        << "n=" << n;
    ExpectGuardIntact(p, size);
    ExpectGuardIntact(m, size);
    ExpectGuardIntact(v, size);
  }
}

TEST(ElementwiseBodyTest, ScatterAndGatherColumns) {
  for (int n : kSizes) {
    const int n_in = 11, cols = 4;
    const int rows = (n + cols - 1) / cols;
    const std::vector<int> columns = {1, 4, 5, 9};
    auto x = WithGuard(RandomFloats(static_cast<size_t>(rows) * n_in, n));
    const auto p = RandomFloats(static_cast<size_t>(rows) * cols, n + 1);
    auto expected = std::vector<float>(x.begin(), x.begin() + rows * n_in);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
        expected[r * n_in + columns[c]] = p[r * cols + c];
    RunElementwiseOnHost(ScatterColumnsBody{x.data(), p.data(), columns.data(),
                                            rows, cols, n_in});
    EXPECT_TRUE(AllClose(std::vector<float>(x.begin(), x.begin() + rows * n_in),
                         expected, 0, 0));
    ExpectGuardIntact(x, static_cast<size_t>(rows) * n_in);
    auto back =
        WithGuard(std::vector<float>(static_cast<size_t>(rows) * cols, 0));
    RunElementwiseOnHost(GatherColumnsBody{back.data(), x.data(),
                                           columns.data(), rows, cols, n_in});
    EXPECT_TRUE(AllClose(
        std::vector<float>(back.begin(), back.begin() + rows * cols), p, 0, 0));
    ExpectGuardIntact(back, static_cast<size_t>(rows) * cols);
  }
}

TEST(ElementwiseBodyTest, GatherRowsMatchesNaiveLoop) {
  for (int n : kSizes) {
    for (int width : {1, 5}) {
      const int count = std::max(1, n / width);
      const int slots = count + 3;
      const auto data =
          RandomFloats(static_cast<size_t>(slots) * width, n + width);
      std::vector<int> rows(count);
      for (int i = 0; i < count; ++i) rows[i] = (i * 5 + 2) % slots;
      auto out =
          WithGuard(std::vector<float>(static_cast<size_t>(count) * width, 0));
      RunElementwiseOnHost(GatherRowsBody<float>{out.data(), data.data(),
                                                 rows.data(), count, width});
      for (int i = 0; i < count; ++i)
        for (int c = 0; c < width; ++c)
          ASSERT_EQ(out[i * width + c], data[rows[i] * width + c])
              << i << "," << c;
      ExpectGuardIntact(out, static_cast<size_t>(count) * width);
    }
  }
}

// CopyRowsBody over a slot's kinds of state at once (floats of 128 and 9
// columns, bytes of 9 and 1, ints of 1), against a copy per array: moves in
// place (compaction), a gather into other arrays (the readout) and
// consecutive rows into slots from an offset (a load).
TEST(ElementwiseBodyTest, CopyRowsMatchesACopyPerArray) {
  struct Array {
    int unit_bytes;
    int units;
  };
  const Array kinds[] = {{4, 128}, {4, 9}, {1, 9}, {1, 1}, {4, 1}};
  for (int count : {1, 255, 257}) {
    const int slots = 2 * count + 5;
    std::mt19937 rng(count);
    auto fill = [&](size_t bytes) {
      std::vector<unsigned char> v(bytes + kGuardSize);
      for (auto& b : v) b = static_cast<unsigned char>(rng());
      return v;
    };
    // Moves: sources above `count`, destinations below, shuffled.
    std::vector<int> from(count), to(count);
    std::iota(from.begin(), from.end(), count);
    std::iota(to.begin(), to.end(), 0);
    std::shuffle(from.begin(), from.end(), rng);
    std::shuffle(to.begin(), to.end(), rng);
    enum Mode { kMove, kGather, kLoad };
    for (Mode mode : {kMove, kGather, kLoad}) {
      std::vector<std::vector<unsigned char>> src, dst;
      CopyRowsBody body{};
      for (const Array& a : kinds) {
        const size_t row_bytes = static_cast<size_t>(a.unit_bytes) * a.units;
        src.push_back(fill(slots * row_bytes));
        dst.push_back(mode == kMove ? std::vector<unsigned char>()
                                    : fill(slots * row_bytes));
      }
      std::vector<std::vector<unsigned char>> expected;
      for (size_t i = 0; i < src.size(); ++i) {
        const Array& a = kinds[i];
        const size_t row_bytes = static_cast<size_t>(a.unit_bytes) * a.units;
        unsigned char* out = mode == kMove ? src[i].data() : dst[i].data();
        std::vector<unsigned char> want = mode == kMove ? src[i] : dst[i];
        for (int r = 0; r < count; ++r) {
          const size_t s_row = mode == kLoad ? r : from[r];
          const size_t d_row = mode == kMove     ? to[r]
                               : mode == kGather ? r
                                                 : r + 3;
          std::memcpy(want.data() + d_row * row_bytes,
                      src[i].data() + s_row * row_bytes, row_bytes);
        }
        expected.push_back(std::move(want));
        body.arrays[body.num_arrays++] = {src[i].data(), out, a.unit_bytes,
                                          a.units};
        body.record_units += a.units;
      }
      body.from = mode == kLoad ? nullptr : from.data();
      body.to = mode == kMove ? to.data() : nullptr;
      body.to_first = mode == kLoad ? 3 : 0;
      body.count = count;
      RunElementwiseOnHost(body);
      for (size_t i = 0; i < src.size(); ++i) {
        ASSERT_EQ(mode == kMove ? src[i] : dst[i], expected[i])
            << "mode " << mode << " array " << i << " count " << count;
      }
    }
  }
}

// The slot table both backends move their state with: a buffer of another
// size, or one buffer named twice, is refused with the array named.
TEST(SlotStateTest, CheckRefusesABufferOfAnotherShape) {
  const int slots = 5;
  const SlotShapes shapes = SlotArrayShapes(/*h1=*/16, /*k_cols=*/3);
  std::vector<std::vector<unsigned char>> buffers;
  SlotBases bases{};
  SlotBytes bytes{};
  for (int a = 0; a < kSlotArrays; ++a) {
    buffers.emplace_back(static_cast<size_t>(slots) * shapes[a].units *
                         shapes[a].unit_bytes);
    bases[a] = buffers.back().data();
    bytes[a] = buffers.back().size();
  }
  EXPECT_TRUE(CheckSlotArrays(bases, bytes, shapes, slots).ok());
  SlotBytes short_lr = bytes;
  short_lr[kSlotLr] -= 4;
  const absl::Status s = CheckSlotArrays(bases, short_lr, shapes, slots);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("array " + std::to_string(kSlotLr)),
            std::string::npos)
      << s;
  SlotBases twice = bases;
  twice[kSlotP0] = bases[kSlotP];
  EXPECT_FALSE(CheckSlotArrays(twice, bytes, shapes, slots).ok());
}

// The row watch over several steps of made-up points, against a plain
// re-statement of its rules in double: best point by objective, stall count,
// convergence, and a target that freezes the row at the first point that
// reaches it. Rows differ in target, tolerance and window.
TEST(ElementwiseBodyTest, RowWatchMatchesItsRules) {
  constexpr int kRows = 37, kCols = 5, kSteps = 30;
  std::vector<uint8_t> mask(kRows * kCols);
  std::vector<float> lambda(kRows), target(kRows), tolerance(kRows);
  std::vector<int> k(kRows), window(kRows);
  std::mt19937 rng(17);
  for (int r = 0; r < kRows; ++r) {
    int count = 0;
    for (int c = 0; c < kCols; ++c) {
      mask[r * kCols + c] = (rng() % 4) != 0;
      count += mask[r * kCols + c];
    }
    k[r] = count;
    lambda[r] = 0.1f * (r % 3);
    target[r] = r % 4 == 0 ? INFINITY : 0.5f + 0.05f * (r % 7);
    tolerance[r] = r % 3 == 0 ? 0.0f : 1e-3f * (r % 5);
    window[r] = 1 + r % 6;
  }
  const std::vector<float> p0 = RandomFloats(kRows * kCols, 3);
  auto best_p = WithGuard(std::vector<float>(kRows * kCols, 0));
  auto best_objective = WithGuard(std::vector<float>(kRows, INFINITY));
  auto best_prediction = WithGuard(std::vector<float>(kRows, 0));
  std::vector<int> stall(kRows, 0);
  std::vector<uint8_t> flags(kRows, 0);
  // The expected state, kept in double.
  std::vector<double> want_best(kRows, INFINITY), want_pred(kRows, 0);
  std::vector<std::vector<float>> want_p(kRows, std::vector<float>(kCols));
  std::vector<int> want_stall(kRows, 0), want_flags(kRows, 0);
  for (int step = 0; step < kSteps; ++step) {
    const std::vector<float> p = RandomFloats(kRows * kCols, 100 + step);
    std::vector<float> prediction = RandomFloats(kRows, 500 + step);
    for (float& f : prediction) f = 0.3f + 0.3f * f;  // some reach targets
    RunElementwiseOnHost(RowWatchBody{
        p.data(), p0.data(), mask.data(), lambda.data(), k.data(),
        prediction.data(), target.data(), tolerance.data(), window.data(),
        best_p.data(), best_objective.data(), best_prediction.data(),
        stall.data(), flags.data(), kRows, kCols});
    for (int r = 0; r < kRows; ++r) {
      if (want_flags[r] & kRowReachedTarget) continue;
      double squares = 0;
      for (int c = 0; c < kCols; ++c) {
        if (!mask[r * kCols + c]) continue;
        const double d = p[r * kCols + c] - p0[r * kCols + c];
        squares += d * d;
      }
      const double objective =
          (k[r] ? lambda[r] * squares / k[r] : 0.0) - prediction[r];
      auto take = [&] {
        want_best[r] = objective;
        want_pred[r] = prediction[r];
        for (int c = 0; c < kCols; ++c) want_p[r][c] = p[r * kCols + c];
      };
      if (prediction[r] >= target[r]) {
        take();
        want_flags[r] |= kRowReachedTarget;
        continue;
      }
      const double old = want_best[r];
      const bool enough =
          std::isinf(old) ||
          objective < old - tolerance[r] * std::max(1.0, std::fabs(old));
      if (objective < old) take();
      want_stall[r] = enough ? 0 : want_stall[r] + 1;
      if (tolerance[r] > 0 && want_stall[r] >= window[r])
        want_flags[r] |= kRowConverged;
    }
    for (int r = 0; r < kRows; ++r) {
      ASSERT_NEAR(best_objective[r], want_best[r], 1e-5) << r << "@" << step;
      ASSERT_EQ(best_prediction[r], static_cast<float>(want_pred[r])) << r;
      ASSERT_EQ(stall[r], want_stall[r]) << r << "@" << step;
      ASSERT_EQ(flags[r], want_flags[r]) << r << "@" << step;
      for (int c = 0; c < kCols; ++c)
        ASSERT_EQ(best_p[r * kCols + c], want_p[r][c]) << r << "," << c;
    }
  }
  int reached = 0, converged = 0;
  for (int r = 0; r < kRows; ++r) {
    reached += (flags[r] & kRowReachedTarget) != 0;
    converged += (flags[r] & kRowConverged) != 0;
  }
  EXPECT_GT(reached, 0);
  EXPECT_GT(converged, 0);
  ExpectGuardIntact(best_p, kRows * kCols);
  ExpectGuardIntact(best_objective, kRows);
  ExpectGuardIntact(best_prediction, kRows);
}

// ---------------------------------------------------------------------- GEMMs
// The descriptors the GPU will receive, executed by cblas, against naive loops
// over the row-major meaning they claim.

TEST(GemmArgsTest, LayerForwardIsXTimesWTransposed) {
  for (int rows : {1, 3, 64, 257}) {
    for (auto [in, out] :
         {std::pair{13, 7}, std::pair{128, 768}, std::pair{9, 1}}) {
      const auto x = RandomFloats(static_cast<size_t>(rows) * in, rows + in);
      const auto w = RandomFloats(static_cast<size_t>(out) * in, out);
      for (float beta : {0.0f, 1.0f}) {
        auto z = RandomFloats(static_cast<size_t>(rows) * out, 99);
        std::vector<double> expected(z.size());
        for (int r = 0; r < rows; ++r)
          for (int o = 0; o < out; ++o) {
            double acc = beta * z[r * out + o];
            for (int i = 0; i < in; ++i)
              acc += double(x[r * in + i]) * w[o * in + i];
            expected[r * out + o] = acc;
          }
        GemmCblas(LayerForward(rows, in, out, beta), w.data(), x.data(),
                  z.data());
        EXPECT_TRUE(AllClose(z, expected, 1e-4, 1e-4))
            << "rows=" << rows << " in=" << in << " out=" << out
            << " beta=" << beta;
      }
    }
  }
}

TEST(GemmArgsTest, LayerInputGradIsDzTimesW) {
  for (int rows : {1, 3, 64, 257}) {
    for (auto [in, out] :
         {std::pair{13, 7}, std::pair{768, 512}, std::pair{128, 1}}) {
      const auto dz = RandomFloats(static_cast<size_t>(rows) * out, rows + out);
      const auto w = RandomFloats(static_cast<size_t>(out) * in, in);
      std::vector<float> dx(static_cast<size_t>(rows) * in, -7.0f);
      std::vector<double> expected(dx.size());
      for (int r = 0; r < rows; ++r)
        for (int i = 0; i < in; ++i) {
          double acc = 0;
          for (int o = 0; o < out; ++o)
            acc += double(dz[r * out + o]) * w[o * in + i];
          expected[r * in + i] = acc;
        }
      GemmCblas(LayerInputGrad(rows, in, out), w.data(), dz.data(), dx.data());
      EXPECT_TRUE(AllClose(dx, expected, 1e-4, 1e-4))
          << "rows=" << rows << " in=" << in << " out=" << out;
    }
  }
}

TEST(GemmArgsTest, BuildersSpellTheColumnMajorArguments) {
  // The exact arguments STYLE.md gives for dX = dZ W.
  const GemmArgs g = LayerInputGrad(/*rows=*/5, /*in=*/128, /*out=*/768);
  EXPECT_EQ(g.trans_a, GemmOp::kNoTrans);
  EXPECT_EQ(g.trans_b, GemmOp::kNoTrans);
  EXPECT_EQ(g.m, 128);
  EXPECT_EQ(g.n, 5);
  EXPECT_EQ(g.k, 768);
  EXPECT_EQ(g.lda, 128);
  EXPECT_EQ(g.ldb, 768);
  EXPECT_EQ(g.ldc, 128);
  const GemmArgs f = LayerForward(5, 128, 768);
  EXPECT_EQ(f.trans_a, GemmOp::kTrans);
  EXPECT_EQ(f.m, 768);
  EXPECT_EQ(f.n, 5);
  EXPECT_EQ(f.k, 128);
  EXPECT_EQ(f.lda, 128);
  EXPECT_EQ(f.ldb, 128);
  EXPECT_EQ(f.ldc, 768);
}

// ------------------------------------------------------------- CPU backend

// Slots 0, 1, ..., rows - 1: reads the first rows in slot order.
std::vector<int> FirstRows(int rows) {
  std::vector<int> list(rows);
  std::iota(list.begin(), list.end(), 0);
  return list;
}

class CpuBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mlp_ = nio::testing::RandomMlp({10, 32, 24, 16, 1}, 42);
    movable_ = {1, 2, 4, 7, 8};
  }
  std::unique_ptr<Backend> Make(int max_rows, int threads = 2) {
    BackendOptions o;
    o.max_rows = max_rows;
    o.threads = threads;
    auto b = CreateCpuBackend(mlp_, movable_, o);
    EXPECT_TRUE(b.ok()) << b.status();
    return std::move(b).value();
  }
  MlpWeights mlp_;
  std::vector<int> movable_;
};

TEST_F(CpuBackendTest, PredictMatchesDoubleForward) {
  auto backend = Make(16);
  const int rows = 300;  // more than the slots: Predict chunks
  const auto x = RandomFloats(static_cast<size_t>(rows) * 10, 5, -2, 2);
  std::vector<float> out(rows);
  ASSERT_TRUE(backend->Predict(x.data(), rows, out.data()).ok());
  std::vector<double> expected(rows);
  for (int r = 0; r < rows; ++r)
    expected[r] = nio::testing::ForwardDouble(
        mlp_,
        std::vector<double>(x.begin() + r * 10, x.begin() + (r + 1) * 10));
  EXPECT_TRUE(AllClose(out, expected, 1e-4, 1e-4));
}

TEST_F(CpuBackendTest, InputGradientMatchesCentralFiniteDifferences) {
  // The gradient a Step records at its starting point (every column movable),
  // read back with GatherRows, against central differences of the double
  // forward pass. 37 rows run as row chunks; 1 row runs split across the cores.
  for (int rows : {37, 1}) {
    auto backend = Make(64);
    const size_t k = movable_.size();
    const auto x = RandomFloats(static_cast<size_t>(rows) * 10, 8, -2, 2);
    std::vector<uint8_t> mask(rows * k, 1);
    std::vector<float> lo(rows * k, -3), hi(rows * k, 3);
    std::vector<float> lr(rows, 0.05f), lambda(rows, 0.1f);
    const NioRows start{rows,      x.data(),  mask.data(),  lo.data(),
                        hi.data(), lr.data(), lambda.data()};
    ASSERT_TRUE(backend->LoadRows(0, start).ok());
    ASSERT_TRUE(backend->Step(0, rows).ok());
    std::vector<float> grad(rows * k);
    const std::vector<int> slots = FirstRows(rows);
    ASSERT_TRUE(backend->GatherRows(slots, {.df_dp = grad.data()}).ok());
    std::vector<double> fd(grad.size());
    const double eps = 1e-5;
    for (int r = 0; r < rows; ++r) {
      for (size_t c = 0; c < k; ++c) {
        std::vector<double> xp(x.begin() + r * 10, x.begin() + (r + 1) * 10);
        std::vector<double> xm = xp;
        xp[movable_[c]] += eps;
        xm[movable_[c]] -= eps;
        const double f_plus = nio::testing::ForwardDouble(mlp_, xp);
        const double f_minus = nio::testing::ForwardDouble(mlp_, xm);
        fd[r * k + c] = (f_plus - f_minus) / (2 * eps);
      }
    }
    EXPECT_TRUE(AllClose(grad, fd, 1e-4, 1e-3)) << rows << " rows";
  }
}

TEST(CpuBackendInvarianceTest, ATrackGetsTheSameBitsWhateverTheBatch) {
  // A row's answer may not depend on the rows beside it: the same 300 tracks
  // stepped as one block, in the scheduler's chunks, with 1 or 2 threads,
  // loaded in pieces at other slots in reverse order, and each track alone
  // (one row runs split across the cores). Every p, prediction and gradient
  // must be bit-identical. The service model's layer widths.
  const MlpWeights mlp =
      nio::testing::RandomMlp({40, 768, 512, 256, 128, 1}, 7);
  const std::vector<int> movable = {1, 2, 4, 5, 7, 8, 9, 11, 12};
  const int rows = 300, steps = 4;
  const int k = static_cast<int>(movable.size());
  const auto x = RandomFloats(static_cast<size_t>(rows) * 40, 3, -2, 2);
  std::vector<uint8_t> mask(rows * k, 1);
  for (int r = 0; r < rows; ++r) mask[r * k + r % k] = 0;
  std::vector<float> lo(rows * k, -3), hi(rows * k, 3), lr(rows, 0.05f),
      lambda(rows, 0.1f);
  // Rows [first, first + count) of the tracks as a NioRows.
  auto tracks = [&](int first, int count) {
    return NioRows{count,
                   x.data() + static_cast<size_t>(first) * 40,
                   mask.data() + static_cast<size_t>(first) * k,
                   lo.data() + static_cast<size_t>(first) * k,
                   hi.data() + static_cast<size_t>(first) * k,
                   lr.data() + first,
                   lambda.data() + first};
  };
  // Every state a track's answer is read from, track order.
  auto state = [&](Backend& backend, const std::vector<int>& slots) {
    std::vector<float> p(rows * k), pred(rows), grad(rows * k);
    EXPECT_TRUE(backend
                    .GatherRows(slots, {.p = p.data(),
                                        .prediction = pred.data(),
                                        .df_dp = grad.data()})
                    .ok());
    p.insert(p.end(), pred.begin(), pred.end());
    p.insert(p.end(), grad.begin(), grad.end());
    return p;
  };
  auto make = [&](int max_rows, int threads) {
    BackendOptions o;
    o.max_rows = max_rows;
    o.threads = threads;
    return CreateCpuBackend(mlp, movable, o).value();
  };

  std::vector<std::pair<std::string, std::vector<float>>> runs;
  for (int threads : {1, 2}) {
    for (const std::vector<int>& chunks :
         std::vector<std::vector<int>>{{300}, {128, 128, 44}, {33, 1, 266}}) {
      auto backend = make(rows, threads);
      ASSERT_TRUE(backend->LoadRows(0, tracks(0, rows)).ok());
      for (int step = 0; step < steps; ++step) {
        int first = 0;
        for (int n : chunks) {
          ASSERT_TRUE(backend->Step(first, n).ok());
          first += n;
        }
      }
      runs.emplace_back(
          absl::StrCat(threads, " threads, ", chunks.size(), " chunks"),
          state(*backend, FirstRows(rows)));
    }
  }
  {
    // Loaded 7 at a time into slots in reverse order, behind 20 other rows.
    auto backend = make(rows + 20, 2);
    std::vector<int> slots(rows);
    for (int first = 0; first < rows; first += 7) {
      const int n = std::min(7, rows - first);
      const int slot = 20 + rows - first - n;
      ASSERT_TRUE(backend->LoadRows(slot, tracks(first, n)).ok());
      for (int i = 0; i < n; ++i) slots[first + i] = slot + i;
    }
    for (int step = 0; step < steps; ++step)
      ASSERT_TRUE(backend->Step(0, rows + 20).ok());
    runs.emplace_back("reverse pieces", state(*backend, slots));
  }
  {
    // Each track alone, every step a single split-mode row.
    std::vector<float> p, pred, grad;
    for (int t = 0; t < rows; ++t) {
      auto backend = make(1, 2);
      ASSERT_TRUE(backend->LoadRows(0, tracks(t, 1)).ok());
      for (int step = 0; step < steps; ++step)
        ASSERT_TRUE(backend->Step(0, 1).ok());
      std::vector<float> pt(k), ft(1), gt(k);
      ASSERT_TRUE(backend
                      ->GatherRows({0}, {.p = pt.data(),
                                         .prediction = ft.data(),
                                         .df_dp = gt.data()})
                      .ok());
      p.insert(p.end(), pt.begin(), pt.end());
      pred.push_back(ft[0]);
      grad.insert(grad.end(), gt.begin(), gt.end());
    }
    p.insert(p.end(), pred.begin(), pred.end());
    p.insert(p.end(), grad.begin(), grad.end());
    runs.emplace_back("each alone", std::move(p));
  }
  for (const auto& [name, values] : runs) {
    ASSERT_EQ(values.size(), runs[0].second.size());
    EXPECT_EQ(std::memcmp(values.data(), runs[0].second.data(),
                          values.size() * sizeof(float)),
              0)
        << name << " differs from " << runs[0].first;
  }
  // The runs computed something.
  std::vector<float> pred(runs[0].second.begin() + rows * k,
                          runs[0].second.begin() + rows * k + rows);
  EXPECT_GT(std::abs(pred[0]) + std::abs(pred[1]), 0.0f);

  // Predict: a row alone or among 299 others, 1 or 2 threads.
  std::vector<float> batch(rows), single(rows);
  ASSERT_TRUE(make(rows, 2)->Predict(x.data(), rows, batch.data()).ok());
  auto one = make(1, 1);
  for (int r = 0; r < rows; ++r) {
    ASSERT_TRUE(one->Predict(x.data() + static_cast<size_t>(r) * 40, 1,
                             single.data() + r)
                    .ok());
  }
  EXPECT_EQ(std::memcmp(batch.data(), single.data(), rows * sizeof(float)), 0);
}

TEST_F(CpuBackendTest, StepRecordsPredictionAndMovesOnlyMaskedColumns) {
  auto backend = Make(8);
  const int rows = 3, k = static_cast<int>(movable_.size());
  const auto x = RandomFloats(rows * 10, 9);
  std::vector<uint8_t> mask(rows * k, 1);
  mask[1] = 0;  // row 0 keeps column 1 fixed
  std::vector<float> lo(rows * k, -3), hi(rows * k, 3), lr(rows, 0.05f),
      lambda(rows, 0.1f);
  ASSERT_TRUE(backend
                  ->LoadRows(0, NioRows{rows, x.data(), mask.data(), lo.data(),
                                        hi.data(), lr.data(), lambda.data()})
                  .ok());
  ASSERT_TRUE(backend->Step(0, rows).ok());
  std::vector<float> p(rows * k), pred(rows);
  const std::vector<int> slots = FirstRows(rows);
  ASSERT_TRUE(
      backend->GatherRows(slots, {.p = p.data(), .prediction = pred.data()})
          .ok());
  for (int r = 0; r < rows; ++r) {
    EXPECT_NEAR(pred[r],
                nio::testing::ForwardDouble(
                    mlp_, std::vector<double>(x.begin() + r * 10,
                                              x.begin() + (r + 1) * 10)),
                1e-4);
    for (int c = 0; c < k; ++c) {
      const float p0 = x[r * 10 + movable_[c]];
      if (mask[r * k + c]) {
        // First Adam step: |dp| = lr (up to eps) unless the gradient is 0.
        EXPECT_NEAR(std::fabs(p[r * k + c] - p0), 0.05f, 1e-4) << r << "," << c;
      } else {
        EXPECT_EQ(p[r * k + c], p0);
      }
    }
  }
}

TEST_F(CpuBackendTest, RejectsBadShapesAndRanges) {
  MlpWeights broken = mlp_;
  broken.layers[1].in = 31;
  EXPECT_EQ(CreateCpuBackend(broken, movable_, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCpuBackend(mlp_, {10}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  BackendOptions zero;
  zero.max_rows = 0;
  EXPECT_FALSE(CreateCpuBackend(mlp_, movable_, zero).ok());
  auto backend = Make(4);
  EXPECT_EQ(backend->Step(0, 5).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(backend->Step(3, 2).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(backend->Step(-1, 1).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(backend->MoveRows(std::vector<RowMove>{{0, 4}}).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(backend->MoveRows(std::vector<RowMove>{{3, 2}, {2, 1}}).code(),
            absl::StatusCode::kInvalidArgument);
  for (const std::vector<int>& rows : {std::vector<int>{0, 4}, {-1}}) {
    EXPECT_EQ(backend->GatherRows(rows, {}).code(),
              absl::StatusCode::kOutOfRange);
  }
}

TEST_F(CpuBackendTest, GatherAndMoveRowsCarryTheWholeSlotState) {
  // Two backends run the same tracks; in one, the tracks are moved to other
  // slots after a step. Every later step must agree (Adam moments, step
  // count, bounds, mask, lr and lambda all moved), and GatherRows of the
  // moved slots must read what it reads from the slots that stayed, the
  // recorded gradient included.
  const int rows = 6, k = static_cast<int>(movable_.size());
  const auto x = RandomFloats(rows * 10, 21);
  std::vector<uint8_t> mask(rows * k, 1);
  for (int r = 0; r < rows; ++r) mask[r * k + r % k] = 0;
  std::vector<float> lo(rows * k), hi(rows * k), lr(rows), lambda(rows);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < k; ++c) {
      lo[r * k + c] = -0.5f - 0.3f * r;
      hi[r * k + c] = 0.5f + 0.2f * c;
    }
    lr[r] = 0.01f + 0.02f * r;
    lambda[r] = 0.05f * r;
  }
  const NioRows start{rows,      x.data(),  mask.data(),  lo.data(),
                      hi.data(), lr.data(), lambda.data()};
  auto still = Make(8), moved = Make(8);
  ASSERT_TRUE(still->LoadRows(0, start).ok());
  ASSERT_TRUE(moved->LoadRows(0, start).ok());
  for (int s = 0; s < 3; ++s) {
    ASSERT_TRUE(still->Step(0, rows).ok());
    ASSERT_TRUE(moved->Step(0, rows).ok());
  }
  // Rows 4 and 5 go to spare slots 6 and 7, then rows 0 and 1 take their
  // places: (0 1 2 3 4 5) -> (4 5 2 3 0 1) on slots 0..5 after two sets.
  ASSERT_TRUE(moved->MoveRows(std::vector<RowMove>{{4, 6}, {5, 7}}).ok());
  ASSERT_TRUE(moved->MoveRows(std::vector<RowMove>{{0, 4}, {1, 5}}).ok());
  ASSERT_TRUE(moved->MoveRows(std::vector<RowMove>{{6, 0}, {7, 1}}).ok());
  const std::vector<int> where = {4, 5, 2,
                                  3, 0, 1};  // where[r]: slot of track r
  for (int s = 0; s < 20; ++s) {
    ASSERT_TRUE(still->Step(0, rows).ok());
    ASSERT_TRUE(moved->Step(0, rows).ok());
  }
  std::vector<float> p_still(rows * k), pred_still(rows), grad_still(rows * k);
  std::vector<float> p_moved(rows * k), pred_moved(rows), grad_moved(rows * k);
  const std::vector<int> slots = FirstRows(rows);
  const absl::Status read_still =
      still->GatherRows(slots, {.p = p_still.data(),
                                .prediction = pred_still.data(),
                                .df_dp = grad_still.data()});
  ASSERT_TRUE(read_still.ok()) << read_still;
  const absl::Status read_moved =
      moved->GatherRows(where, {.p = p_moved.data(),
                                .prediction = pred_moved.data(),
                                .df_dp = grad_moved.data()});
  ASSERT_TRUE(read_moved.ok()) << read_moved;
  EXPECT_TRUE(AllClose(p_moved, p_still, 1e-6, 1e-6));
  EXPECT_TRUE(AllClose(pred_moved, pred_still, 1e-6, 1e-6));
  EXPECT_TRUE(AllClose(grad_moved, grad_still, 1e-6, 1e-6));
  // Only the predictions, in another order.
  std::vector<float> pred_only(2);
  const std::vector<int> two = {0, 4};
  ASSERT_TRUE(moved->GatherRows(two, {.prediction = pred_only.data()}).ok());
  EXPECT_EQ(pred_only[0], pred_moved[4]);
  EXPECT_EQ(pred_only[1], pred_moved[0]);
}

}  // namespace
}  // namespace nio::kernels
