#include "kernels/cpu/row_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace nio::kernels {
namespace {

constexpr int kBlock = kRowGemmOutBlock;
// Rows per register tile: 6 rows x 16 outputs = 12 accumulators, the
// broadcast and two weight vectors fit the 16 AVX2 registers.
constexpr int kTileRows = 6;
// The k range packed and swept at once; a tile's weights (kKc x 16 floats,
// 8 KiB) stay in L1 while the row tiles pass over them.
constexpr int kKc = kRowGemmKBlock;

using GemmFn = void (*)(const PackedWeights&, const float*, size_t, int, float*,
                        size_t, int, int);

#if defined(__x86_64__)

// One register tile: rows [0, R) of the packed panel times NB consecutive
// weight blocks (block_stride floats apart) over kc values of k, summed from
// zero and then added to (or, when first, written over) the first oc of the
// tile's NB * 16 outputs in c. Each output is its own fma chain, so a tile's
// shape changes no bit; it only keeps enough independent chains in flight.
template <int R, int NB>
__attribute__((target("avx2,fma"))) void Tile(const float* panel,
                                              const float* w,
                                              size_t block_stride, int kc,
                                              float* c, size_t ldc, int oc,
                                              bool first) {
  constexpr int V = 2 * NB;  // 8-float vectors per row
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i mask[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(oc - 8 * v), lane);
  }
  const bool full = oc == V * 8;
  __m256 acc[R][V];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_ps();
  }
  for (int j = 0; j < kc; ++j) {
    __m256 wv[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      wv[v] =
          _mm256_load_ps(w + (v / 2) * block_stride + j * kBlock + (v % 2) * 8);
    }
    const float* xj = panel + j * kTileRows;
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 x = _mm256_broadcast_ss(xj + i);
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v)
        acc[i][v] = _mm256_fmadd_ps(x, wv[v], acc[i][v]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      if (full) {
        if (!first)
          acc[i][v] = _mm256_add_ps(_mm256_loadu_ps(ci + 8 * v), acc[i][v]);
        _mm256_storeu_ps(ci + 8 * v, acc[i][v]);
      } else {
        if (!first) {
          acc[i][v] =
              _mm256_add_ps(_mm256_maskload_ps(ci + 8 * v, mask[v]), acc[i][v]);
        }
        _mm256_maskstore_ps(ci + 8 * v, mask[v], acc[i][v]);
      }
    }
  }
}

// Rows [0, R) of the panel over outputs [out_begin, out_end): tiles of as
// many blocks as keep about 8-12 accumulators busy (fewer rows, more blocks),
// then single blocks for the rest.
template <int R>
__attribute__((target("avx2,fma"))) void TileRows(const float* panel,
                                                  const PackedWeights& w,
                                                  int k0, int kc, float* c,
                                                  size_t ldc, int out_begin,
                                                  int out_end, bool first) {
  constexpr int NB = R == 1 ? 4 : R == 2 ? 3 : R == 3 ? 2 : 1;
  const size_t block_stride = static_cast<size_t>(w.K()) * kBlock;
  int o0 = out_begin;
  for (; NB > 1 && o0 + NB * kBlock <= out_end; o0 += NB * kBlock) {
    Tile<R, NB>(panel, w.Block(o0 / kBlock) + static_cast<size_t>(k0) * kBlock,
                block_stride, kc, c + o0, ldc, NB * kBlock, first);
  }
  for (; o0 < out_end; o0 += kBlock) {
    Tile<R, 1>(panel, w.Block(o0 / kBlock) + static_cast<size_t>(k0) * kBlock,
               block_stride, kc, c + o0, ldc, std::min(kBlock, out_end - o0),
               first);
  }
}

// For each k range: the rows are packed into panels of kTileRows (they stay
// in L2), then each output block's weights (kKc x 16 floats, in L1) meet
// every full panel in turn; a last partial panel gets tiles of several
// blocks.
__attribute__((target("avx2,fma"))) void RowGemmAvx2(const PackedWeights& w,
                                                     const float* x, size_t ldx,
                                                     int rows, float* c,
                                                     size_t ldc, int out_begin,
                                                     int out_end) {
  thread_local std::vector<float> panels;
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  const size_t panel_floats = static_cast<size_t>(kKc) * kTileRows;
  if (panels.size() < tiles * panel_floats) panels.resize(tiles * panel_floats);
  const int full_tiles = rows / kTileRows;
  const int tail_rows = rows - full_tiles * kTileRows;
  const size_t block_stride = static_cast<size_t>(w.K()) * kBlock;
  const int k = w.K();
  for (int k0 = 0; k0 < k; k0 += kKc) {
    const int kc = std::min(kKc, k - k0);
    const bool first = k0 == 0;
    for (int r = 0; r < rows; ++r) {
      float* panel = panels.data() + (r / kTileRows) * panel_floats;
      const float* xr = x + r * ldx + k0;
      for (int j = 0; j < kc; ++j) panel[j * kTileRows + r % kTileRows] = xr[j];
    }
    for (int o0 = out_begin; o0 < out_end && full_tiles > 0; o0 += kBlock) {
      const float* wb = w.Block(o0 / kBlock) + static_cast<size_t>(k0) * kBlock;
      const int oc = std::min(kBlock, out_end - o0);
      for (int t = 0; t < full_tiles; ++t) {
        Tile<kTileRows, 1>(panels.data() + t * panel_floats, wb, block_stride,
                           kc, c + t * kTileRows * ldc + o0, ldc, oc, first);
      }
    }
    if (tail_rows == 0) continue;
    const float* panel = panels.data() + full_tiles * panel_floats;
    float* ct = c + full_tiles * kTileRows * ldc;
    // TileRows<R> for R = tail_rows (a full tile has 6 rows).
    using TailTiles = void (*)(const float*, const PackedWeights&, int, int,
                               float*, size_t, int, int, bool);
    static constexpr TailTiles kTail[kTileRows] = {nullptr,     TileRows<1>,
                                                   TileRows<2>, TileRows<3>,
                                                   TileRows<4>, TileRows<5>};
    kTail[tail_rows](panel, w, k0, kc, ct, ldc, out_begin, out_end, first);
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
  data_.reset(
      static_cast<float*>(std::aligned_alloc(32, std::max<size_t>(bytes, 32))));
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
