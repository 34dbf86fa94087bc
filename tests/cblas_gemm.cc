#include "tests/cblas_gemm.h"

#include <cblas.h>

#include <cstdlib>

#include "kernels/host_grid.h"

namespace nio::kernels {
namespace {

CBLAS_TRANSPOSE ToCblas(GemmOp op) {
  return op == GemmOp::kTrans ? CblasTrans : CblasNoTrans;
}

}  // namespace

void GemmCblas(const GemmArgs& g, const float* a, const float* b, float* c) {
  if (g.epilogue != GemmEpilogue::kNone) std::abort();
  if (g.m <= 0 || g.n <= 0) return;
  cblas_sgemm(CblasColMajor, ToCblas(g.trans_a), ToCblas(g.trans_b), g.m, g.n,
              g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, c, g.ldc);
}

void GemmCblas(const GemmArgs& g, const float* a, const float* b,
               const float* c, float* d, const float* bias, uint32_t* mask) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.beta != 0.0f && c != d) {
    for (int j = 0; j < g.n; ++j)
      for (int i = 0; i < g.m; ++i)
        d[static_cast<size_t>(j) * g.ldc + i] =
            c[static_cast<size_t>(j) * g.ldc + i];
  }
  GemmArgs plain = g;
  plain.epilogue = GemmEpilogue::kNone;
  GemmCblas(plain, a, b, d);
  RunElementwiseOnHost(
      GemmEpilogueBody{g.epilogue, d, g.ldc, g.m, g.n, bias, mask, g.mask_ld});
}

}  // namespace nio::kernels
