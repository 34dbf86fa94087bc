// The CUDA backend's fused GEMM epilogues and its MLP passes (mlp_pass.h),
// run on the host: each epilogue descriptor through cblas and the epilogue
// body against a naive loop, and the whole forward/backward sequence the GPU
// runs (fused and not) against the CPU backend's prediction and gradient.
#include "kernels/mlp_pass.h"

#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "kernels/gemm_args.h"
#include "kernels/gemm_epilogue.h"
#include "kernels/host_grid.h"
#include "tests/cblas_gemm.h"
#include "tests/test_util.h"

namespace nio::kernels {
namespace {

using nio::testing::AllClose;
using nio::testing::RandomFloats;

bool MaskBit(const std::vector<uint32_t>& mask, int64_t ld, int i, int j) {
  const int64_t bit = i + j * ld;
  return (mask[bit / 32] >> (bit % 32)) & 1u;
}

// Row-major x (rows, in), w (out, in): the naive z = x w^T (+ c) (+ b).
std::vector<double> NaiveForward(const std::vector<float>& x,
                                 const std::vector<float>& w,
                                 const std::vector<float>* bias,
                                 const std::vector<float>* c, int rows, int in,
                                 int out) {
  std::vector<double> z(static_cast<size_t>(rows) * out);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double acc = c ? (*c)[r * out + o] : 0.0;
      if (bias) acc += (*bias)[o];
      for (int i = 0; i < in; ++i) acc += double(x[r * in + i]) * w[o * in + i];
      z[r * out + o] = acc;
    }
  return z;
}

// Widths around the 32-bit words and 128-bit columns of the mask.
TEST(GemmEpilogueTest, ReluBiasWritesTheActivationAndItsMask) {
  for (int rows : {1, 3, 257}) {
    for (auto [in, out] :
         {std::pair{13, 7}, std::pair{9, 130}, std::pair{128, 768}}) {
      const auto x = RandomFloats(static_cast<size_t>(rows) * in, rows + in);
      const auto w = RandomFloats(static_cast<size_t>(out) * in, out);
      const auto b = RandomFloats(out, 3);
      const GemmArgs g = LayerForwardRelu(rows, in, out);
      ASSERT_EQ(g.mask_ld % 128, 0);
      ASSERT_GE(g.mask_ld, out);
      std::vector<float> z(static_cast<size_t>(rows) * out, 9.0f);
      std::vector<uint32_t> mask(ReluMaskWords(out, rows), 0xdeadbeef);
      GemmCblas(g, w.data(), x.data(), nullptr, z.data(), b.data(),
                mask.data());
      const auto pre = NaiveForward(x, w, &b, nullptr, rows, in, out);
      std::vector<double> expected(pre.size());
      int wrong_bits = 0;
      for (int r = 0; r < rows; ++r)
        for (int o = 0; o < out; ++o) {
          const double v = pre[r * out + o];
          expected[r * out + o] = v > 0 ? v : 0;
          // Values within rounding of 0 may fall either way.
          if (std::abs(v) > 1e-5 && MaskBit(mask, g.mask_ld, o, r) != (v > 0))
            ++wrong_bits;
        }
      EXPECT_TRUE(AllClose(z, expected, 1e-4, 1e-4))
          << rows << "x" << in << "->" << out;
      EXPECT_EQ(wrong_bits, 0) << rows << "x" << in << "->" << out;
    }
  }
}

TEST(GemmEpilogueTest, FirstLayerAccumulatesOntoTheFixedPart) {
  const int rows = 257, k = 9, out = 768;
  const auto p = RandomFloats(static_cast<size_t>(rows) * k, 1);
  const auto w = RandomFloats(static_cast<size_t>(out) * k, 2);
  const auto fixed = RandomFloats(static_cast<size_t>(rows) * out, 3);
  const GemmArgs g = FirstLayerForwardRelu(rows, k, out);
  std::vector<float> z(fixed.size(), -5.0f);
  std::vector<uint32_t> mask(ReluMaskWords(out, rows));
  GemmCblas(g, w.data(), p.data(), fixed.data(), z.data(), nullptr,
            mask.data());
  const auto pre = NaiveForward(p, w, nullptr, &fixed, rows, k, out);
  std::vector<double> expected(pre.size());
  for (size_t i = 0; i < pre.size(); ++i) expected[i] = pre[i] > 0 ? pre[i] : 0;
  EXPECT_TRUE(AllClose(z, expected, 1e-4, 1e-4));
}

TEST(GemmEpilogueTest, DReluZeroesWhereTheForwardMaskIsClear) {
  for (int rows : {1, 257}) {
    const int in = 130, out = 24;
    // The forward mask of the layer below: relu of a random pre-activation.
    const auto below = RandomFloats(static_cast<size_t>(rows) * in, 7);
    std::vector<uint32_t> mask(ReluMaskWords(in, rows));
    std::vector<float> h = below;
    const int64_t ld = ReluMaskLd(in);
    RunElementwiseOnHost(GemmEpilogueBody{GemmEpilogue::kReluAux, h.data(), in,
                                          in, rows, nullptr, mask.data(), ld});
    const auto dz = RandomFloats(static_cast<size_t>(rows) * out, 8);
    const auto w = RandomFloats(static_cast<size_t>(out) * in, 9);
    std::vector<float> dx(static_cast<size_t>(rows) * in, 3.0f);
    GemmCblas(LayerInputGradDRelu(rows, in, out), w.data(), dz.data(), nullptr,
              dx.data(), nullptr, mask.data());
    std::vector<double> expected(dx.size());
    for (int r = 0; r < rows; ++r)
      for (int i = 0; i < in; ++i) {
        double acc = 0;
        for (int o = 0; o < out; ++o)
          acc += double(dz[r * out + o]) * w[o * in + i];
        expected[r * in + i] = below[r * in + i] > 0 ? acc : 0;
      }
    EXPECT_TRUE(AllClose(dx, expected, 1e-4, 1e-4)) << rows;
  }
}

TEST(TopLayerBodyTest, PredictionAndGradientMatchTheNaiveLoop) {
  for (int rows : {1, 255, 257}) {
    const int cols = 128;
    auto h = RandomFloats(static_cast<size_t>(rows) * cols, rows, -1, 1);
    for (float& v : h) v = v > 0 ? v : 0;  // a ReLU's output
    const auto w = RandomFloats(cols, 2);
    const float bias = 0.25f;
    std::vector<float> pred(rows + 1, 7.0f);  // one guard value
    std::vector<float> grad(static_cast<size_t>(rows) * cols + 1, 7.0f);
    RunElementwiseOnHost(TopLayerBody{pred.data(), grad.data(), h.data(),
                                      w.data(), &bias, 0, rows, cols, true});
    for (int r = 0; r < rows; ++r) {
      double dot = bias;
      for (int c = 0; c < cols; ++c) dot += double(h[r * cols + c]) * w[c];
      EXPECT_NEAR(pred[r], dot, 1e-4) << r;
      for (int c = 0; c < cols; ++c)
        ASSERT_EQ(grad[r * cols + c], h[r * cols + c] > 0 ? w[c] : 0.0f);
    }
    EXPECT_EQ(pred[rows], 7.0f);
    EXPECT_EQ(grad.back(), 7.0f);
  }
}

// The tests' executor: cblas and the host grid.
struct HostExec {
  absl::Status Gemm(const GemmArgs& g, const float* a, const float* b,
                    const float* c, float* d, const float* bias,
                    uint32_t* mask) {
    GemmCblas(g, a, b, c, d, bias, mask);
    return absl::OkStatus();
  }
  template <class Body>
  absl::Status Run(const Body& body) {
    RunElementwiseOnHost(body);
    return absl::OkStatus();
  }
};

// MlpPass over host buffers, laid out as the CUDA backend lays out its own.
struct HostPass {
  HostPass(const MlpWeights& mlp, const std::vector<int>& movable, int rows,
           bool fused) {
    const DenseLayer& first = mlp.layers.front();
    w1m.resize(static_cast<size_t>(first.out) * movable.size());
    for (int o = 0; o < first.out; ++o)
      for (size_t c = 0; c < movable.size(); ++c)
        w1m[o * movable.size() + c] = first.weight[o * first.in + movable[c]];
    int max_width = first.in;
    for (const DenseLayer& l : mlp.layers) {
      pass.layers.push_back({l.weight.data(), l.bias.data(), l.in, l.out});
      max_width = std::max(max_width, l.out);
    }
    for (size_t l = 0; l + 1 < mlp.layers.size(); ++l) {
      act.emplace_back(static_cast<size_t>(rows) * mlp.layers[l].out);
      masks.emplace_back(ReluMaskWords(mlp.layers[l].out, rows));
    }
    for (auto& a : act) pass.act.push_back(a.data());
    for (auto& m : masks) pass.relu_mask.push_back(m.data());
    grad_a.resize(static_cast<size_t>(rows) * max_width);
    grad_b.resize(grad_a.size());
    pass.grad_a = grad_a.data();
    pass.grad_b = grad_b.data();
    pass.w1_movable = w1m.data();
    pass.k_cols = static_cast<int>(movable.size());
    pass.fused = fused;
  }
  MlpPass pass;
  std::vector<float> w1m, grad_a, grad_b;
  std::vector<std::vector<float>> act;
  std::vector<std::vector<uint32_t>> masks;
};

// The fixed part x0[movable := 0] W1^T + b1 of each row, computed naively.
std::vector<float> FixedPart(const MlpWeights& mlp,
                             const std::vector<int>& movable,
                             const std::vector<float>& x, int rows) {
  const DenseLayer& first = mlp.layers.front();
  std::vector<float> fixed(static_cast<size_t>(rows) * first.out);
  for (int r = 0; r < rows; ++r) {
    std::vector<float> x0(x.begin() + r * first.in,
                          x.begin() + (r + 1) * first.in);
    for (int c : movable) x0[c] = 0;
    for (int o = 0; o < first.out; ++o) {
      double acc = first.bias[o];
      for (int i = 0; i < first.in; ++i)
        acc += double(x0[i]) * first.weight[o * first.in + i];
      fixed[r * first.out + o] = static_cast<float>(acc);
    }
  }
  return fixed;
}

// The CUDA step's passes, fused and not, against the CPU backend's recorded
// prediction and input gradient, and its forward against Predict; a deep MLP
// with the service's widths, a small one and a linear one (no hidden layer).
TEST(MlpPassTest, StepAndForwardMatchTheCpuBackend) {
  const std::vector<std::vector<int>> shapes = {
      {128, 768, 512, 256, 128, 1}, {10, 32, 1}, {10, 1}};
  for (const auto& sizes : shapes) {
    const MlpWeights mlp = nio::testing::RandomMlp(sizes, 17);
    const int n_in = sizes.front();
    const std::vector<int> movable = {1, 2, 4, 7, 8};
    const int k = static_cast<int>(movable.size());
    for (int rows : {1, 257}) {
      BackendOptions o;
      o.max_rows = rows;
      o.threads = 1;
      auto cpu = CreateCpuBackend(mlp, movable, o);
      ASSERT_TRUE(cpu.ok()) << cpu.status();
      const auto x = RandomFloats(static_cast<size_t>(rows) * n_in, 5, -2, 2);
      std::vector<uint8_t> mask(static_cast<size_t>(rows) * k, 1);
      std::vector<float> lo(mask.size(), -3), hi(mask.size(), 3);
      std::vector<float> lr(rows, 0.05f), lambda(rows, 0.1f);
      const NioRows start{rows,      x.data(),  mask.data(),  lo.data(),
                          hi.data(), lr.data(), lambda.data()};
      ASSERT_TRUE((*cpu)->LoadRows(0, start).ok());
      ASSERT_TRUE((*cpu)->Step(0, rows).ok());
      std::vector<int> slots(rows);
      std::iota(slots.begin(), slots.end(), 0);
      std::vector<float> cpu_pred(rows), cpu_grad(mask.size());
      ASSERT_TRUE((*cpu)
                      ->GatherRows(slots, {.prediction = cpu_pred.data(),
                                           .df_dp = cpu_grad.data()})
                      .ok());
      std::vector<float> cpu_forward(rows);
      ASSERT_TRUE((*cpu)->Predict(x.data(), rows, cpu_forward.data()).ok());

      std::vector<float> p(mask.size());
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < k; ++c) p[r * k + c] = x[r * n_in + movable[c]];
      const std::vector<float> fixed = FixedPart(mlp, movable, x, rows);
      for (bool fused : {false, true}) {
        HostPass host(mlp, movable, rows, fused);
        HostExec exec;
        std::vector<float> pred(rows + 1, 7.0f), grad(mask.size() + 1, 7.0f);
        ASSERT_TRUE(RunMlpStep(exec, host.pass, p.data(), fixed.data(), rows,
                               pred.data(), grad.data())
                        .ok());
        const std::string where = ::testing::PrintToString(sizes) +
                                  " rows=" + std::to_string(rows) +
                                  (fused ? " fused" : " unfused");
        EXPECT_EQ(pred.back(), 7.0f) << where;
        EXPECT_EQ(grad.back(), 7.0f) << where;
        pred.pop_back();
        grad.pop_back();
        EXPECT_TRUE(AllClose(
            pred, std::vector<double>(cpu_pred.begin(), cpu_pred.end()), 1e-4,
            1e-4))
            << where;
        EXPECT_TRUE(AllClose(
            grad, std::vector<double>(cpu_grad.begin(), cpu_grad.end()), 1e-4,
            1e-4))
            << where;
        std::vector<float> forward(rows);
        ASSERT_TRUE(
            RunMlpForward(exec, host.pass, x.data(), rows, forward.data())
                .ok());
        EXPECT_TRUE(AllClose(
            forward,
            std::vector<double>(cpu_forward.begin(), cpu_forward.end()), 1e-4,
            1e-4))
            << where;
      }
    }
  }
}

}  // namespace
}  // namespace nio::kernels
