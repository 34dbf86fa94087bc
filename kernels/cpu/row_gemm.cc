#include "kernels/cpu/row_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace nio::kernels {
namespace {

constexpr int kBlock = kRowGemmOutBlock;
// Rows per register tile: 6 rows x 16 outputs = 12 accumulators, the
// broadcast and two weight vectors fit the 16 AVX2 registers.
constexpr int kTileRows = 6;
// The k range packed and swept at once; a tile's weights (kKc x 16 floats,
// 8 KiB) stay in L1 while the row tiles pass over them.
constexpr int kKc = kRowGemmKBlock;

using GemmFn = void (*)(const PackedWeights&, const float*, size_t, int,
                        float*, size_t, int, int);

#if defined(__x86_64__)

// One register tile: rows [0, R) of the packed panel times one weight block
// over kc values of k, summed from zero and then added to (or, when first,
// written over) the first oc outputs of c.
template <int R>
__attribute__((target("avx2,fma"))) void Tile(const float* panel,
                                              const float* w, int kc,
                                              float* c, size_t ldc, int oc,
                                              bool first) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(oc), lane);
  const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(oc - 8), lane);
  const bool full = oc == kBlock;
  __m256 acc0[R], acc1[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    acc0[i] = _mm256_setzero_ps();
    acc1[i] = _mm256_setzero_ps();
  }
  for (int j = 0; j < kc; ++j) {
    const __m256 w0 = _mm256_load_ps(w + j * kBlock);
    const __m256 w1 = _mm256_load_ps(w + j * kBlock + 8);
    const float* xj = panel + j * kTileRows;
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 x = _mm256_broadcast_ss(xj + i);
      acc0[i] = _mm256_fmadd_ps(x, w0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(x, w1, acc1[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * ldc;
    if (full) {
      if (!first) {
        acc0[i] = _mm256_add_ps(_mm256_loadu_ps(ci), acc0[i]);
        acc1[i] = _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc1[i]);
      }
      _mm256_storeu_ps(ci, acc0[i]);
      _mm256_storeu_ps(ci + 8, acc1[i]);
    } else {
      if (!first) {
        acc0[i] = _mm256_add_ps(_mm256_maskload_ps(ci, mask0), acc0[i]);
        acc1[i] = _mm256_add_ps(_mm256_maskload_ps(ci + 8, mask1), acc1[i]);
      }
      _mm256_maskstore_ps(ci, mask0, acc0[i]);
      _mm256_maskstore_ps(ci + 8, mask1, acc1[i]);
    }
  }
}

__attribute__((target("avx2,fma"))) void RowGemmAvx2(
    const PackedWeights& w, const float* x, size_t ldx, int rows, float* c,
    size_t ldc, int out_begin, int out_end) {
  alignas(32) float panel[kKc * kTileRows];
  const int k = w.K();
  for (int k0 = 0; k0 < k; k0 += kKc) {
    const int kc = std::min(kKc, k - k0);
    for (int r0 = 0; r0 < rows; r0 += kTileRows) {
      const int tile_rows = std::min(kTileRows, rows - r0);
      for (int i = 0; i < tile_rows; ++i) {
        const float* xr = x + (r0 + i) * ldx + k0;
        for (int j = 0; j < kc; ++j) panel[j * kTileRows + i] = xr[j];
      }
      for (int o0 = out_begin; o0 < out_end; o0 += kBlock) {
        const float* wb = w.Block(o0 / kBlock) + static_cast<size_t>(k0) * kBlock;
        float* ct = c + r0 * ldc + o0;
        const int oc = std::min(kBlock, out_end - o0);
        const bool first = k0 == 0;
        switch (tile_rows) {
          case 6: Tile<6>(panel, wb, kc, ct, ldc, oc, first); break;
          case 5: Tile<5>(panel, wb, kc, ct, ldc, oc, first); break;
          case 4: Tile<4>(panel, wb, kc, ct, ldc, oc, first); break;
          case 3: Tile<3>(panel, wb, kc, ct, ldc, oc, first); break;
          case 2: Tile<2>(panel, wb, kc, ct, ldc, oc, first); break;
          default: Tile<1>(panel, wb, kc, ct, ldc, oc, first); break;
        }
      }
    }
  }
}

GemmFn ChooseGemm() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return RowGemmAvx2;
  }
  return RowGemmPortable;
}

#else

GemmFn ChooseGemm() { return RowGemmPortable; }

#endif

}  // namespace

void PackedWeights::Free::operator()(float* p) const { std::free(p); }

PackedWeights::PackedWeights(const float* src, int out, int k,
                             size_t out_stride, size_t k_stride)
    : out_(out), k_(k) {
  const int blocks = (out + kBlock - 1) / kBlock;
  const size_t floats = static_cast<size_t>(blocks) * k * kBlock;
  // aligned_alloc needs a size that is a multiple of the alignment.
  const size_t bytes = (floats * sizeof(float) + 31) / 32 * 32;
  data_.reset(static_cast<float*>(std::aligned_alloc(32, std::max<size_t>(bytes, 32))));
  std::memset(data_.get(), 0, std::max<size_t>(bytes, 32));
  for (int o = 0; o < out; ++o) {
    float* block = data_.get() + static_cast<size_t>(o / kBlock) * k * kBlock;
    for (int j = 0; j < k; ++j) {
      block[static_cast<size_t>(j) * kBlock + o % kBlock] =
          src[o * out_stride + j * k_stride];
    }
  }
}

void RowGemmPortable(const PackedWeights& w, const float* x, size_t ldx,
                     int rows, float* c, size_t ldc, int out_begin,
                     int out_end) {
  const int k = w.K();
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    for (int o = out_begin; o < out_end; ++o) {
      const float* wo = w.Block(o / kBlock) + o % kBlock;
      float acc = 0.0f;
      for (int k0 = 0; k0 < k; k0 += kKc) {
        float block = 0.0f;
        for (int j = k0; j < std::min(k, k0 + kKc); ++j) {
          block = std::fma(xr[j], wo[static_cast<size_t>(j) * kBlock], block);
        }
        acc = k0 == 0 ? block : acc + block;
      }
      c[r * ldc + o] = acc;
    }
  }
}

void RowGemm(const PackedWeights& w, const float* x, size_t ldx, int rows,
             float* c, size_t ldc, int out_begin, int out_end) {
  static const GemmFn gemm = ChooseGemm();
  gemm(w, x, ldx, rows, c, ldc, out_begin, out_end);
}

}  // namespace nio::kernels
