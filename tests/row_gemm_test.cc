// RowGemm: the CPU backend's product. Each output element must be summed in
// the documented order, so a row's bits cannot depend on the batch around it.
#include "kernels/cpu/row_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace nio::kernels {
namespace {

using ::nio::testing::AllClose;
using ::nio::testing::RandomFloats;

// The model's shapes (out, k) in both directions, and odd ones that leave
// partial output blocks and partial row tiles.
const std::pair<int, int> kShapes[] = {{768, 127}, {768, 9},   {512, 768},
                                       {256, 512}, {1, 128},   {128, 1},
                                       {9, 768},   {127, 768}, {37, 45}};
const int kRowCounts[] = {1, 2, 3, 5, 6, 7, 13, 64, 257};

bool SameBits(const float* a, const float* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

TEST(RowGemmTest, EveryElementIsSummedInTheDocumentedOrder) {
  for (auto [out, k] : kShapes) {
    const auto w = RandomFloats(static_cast<size_t>(out) * k, out + k);
    const PackedWeights packed(w.data(), out, k, k, 1);
    for (int rows : {1, 7, 64}) {
      const auto x = RandomFloats(static_cast<size_t>(rows) * k, rows);
      std::vector<float> c(static_cast<size_t>(rows) * out);
      RowGemm(packed, x.data(), k, rows, c.data(), out, 0, out);
      for (int r = 0; r < rows; ++r) {
        for (int o = 0; o < out; ++o) {
          float acc = 0.0f;
          for (int b = 0; b < k; b += kRowGemmKBlock) {
            float block = 0.0f;
            for (int j = b; j < std::min(k, b + kRowGemmKBlock); ++j)
              block = std::fma(x[r * k + j], w[o * k + j], block);
            acc = b == 0 ? block : acc + block;
          }
          ASSERT_EQ(c[r * out + o], acc)
              << "out=" << out << " k=" << k << " rows=" << rows << " r=" << r
              << " o=" << o;
        }
      }
      std::vector<float> portable(c.size());
      RowGemmPortable(packed, x.data(), k, rows, portable.data(), out, 0, out);
      EXPECT_TRUE(SameBits(c.data(), portable.data(), c.size()));
    }
  }
}

TEST(RowGemmTest, ARowHasTheSameBitsAloneInAnyBatchAndAnySplit) {
  for (auto [out, k] : kShapes) {
    const auto w = RandomFloats(static_cast<size_t>(out) * k, 3 * out + k);
    const PackedWeights packed(w.data(), out, k, k, 1);
    const auto pool = RandomFloats(static_cast<size_t>(300) * k, k);
    std::vector<float> alone(static_cast<size_t>(300) * out);
    for (int r = 0; r < 300; ++r) {
      RowGemm(packed, pool.data() + static_cast<size_t>(r) * k, k, 1,
              alone.data() + static_cast<size_t>(r) * out, out, 0, out);
    }
    std::mt19937 rng(out * 7 + k);
    for (int rows : kRowCounts) {
      // `rows` rows drawn from the pool, in a shuffled order.
      std::vector<int> pick(rows);
      for (int& p : pick) p = static_cast<int>(rng() % 300);
      std::vector<float> x(static_cast<size_t>(rows) * k);
      for (int i = 0; i < rows; ++i) {
        std::copy_n(pool.data() + static_cast<size_t>(pick[i]) * k, k,
                    x.data() + static_cast<size_t>(i) * k);
      }
      // Whole, and cut into output slices on block boundaries (split mode).
      std::vector<float> whole(static_cast<size_t>(rows) * out);
      RowGemm(packed, x.data(), k, rows, whole.data(), out, 0, out);
      std::vector<float> sliced(whole.size(), -1.0f);
      for (int b = 0; b < out; b += 2 * kRowGemmOutBlock) {
        RowGemm(packed, x.data(), k, rows, sliced.data(), out, b,
                std::min(out, b + 2 * kRowGemmOutBlock));
      }
      for (int i = 0; i < rows; ++i) {
        const float* want = alone.data() + static_cast<size_t>(pick[i]) * out;
        ASSERT_TRUE(
            SameBits(whole.data() + static_cast<size_t>(i) * out, want, out))
            << "out=" << out << " k=" << k << " rows=" << rows << " i=" << i;
        ASSERT_TRUE(
            SameBits(sliced.data() + static_cast<size_t>(i) * out, want, out))
            << "sliced: out=" << out << " k=" << k << " rows=" << rows;
      }
    }
  }
}

TEST(RowGemmTest, WritesOnlyTheNamedOutputsAndRows) {
  const int out = 45, k = 20, rows = 7, ldc = 50;
  const auto w = RandomFloats(static_cast<size_t>(out) * k, 5);
  const PackedWeights packed(w.data(), out, k, k, 1);
  const auto x = RandomFloats(static_cast<size_t>(rows + 1) * k, 6);
  std::vector<float> c(static_cast<size_t>(rows + 1) * ldc, 7.0f);
  RowGemm(packed, x.data(), k, rows, c.data(), ldc, 16, 40);
  for (int r = 0; r <= rows; ++r) {
    for (int o = 0; o < ldc; ++o) {
      const bool named = r < rows && o >= 16 && o < 40;
      if (!named) {
        ASSERT_EQ(c[r * ldc + o], 7.0f) << r << "," << o;
      } else {
        ASSERT_NE(c[r * ldc + o], 7.0f) << r << "," << o;
      }
    }
  }
}

TEST(RowGemmTest, StridesPackTheTransposeForInputGradients) {
  // dx = dz W for W (out, in): the packed matrix is W^T seen as (in, out).
  const int in = 37, out = 45, rows = 5;
  const auto w = RandomFloats(static_cast<size_t>(out) * in, 8);
  const PackedWeights transposed(w.data(), in, out, 1, in);
  const auto dz = RandomFloats(static_cast<size_t>(rows) * out, 9);
  std::vector<float> dx(static_cast<size_t>(rows) * in);
  RowGemm(transposed, dz.data(), out, rows, dx.data(), in, 0, in);
  std::vector<double> expected(dx.size());
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < in; ++i) {
      double acc = 0;
      for (int o = 0; o < out; ++o)
        acc += double(dz[r * out + o]) * w[o * in + i];
      expected[r * in + i] = acc;
    }
  }
  EXPECT_TRUE(AllClose(dx, expected, 1e-5, 1e-5));
}

}  // namespace
}  // namespace nio::kernels
