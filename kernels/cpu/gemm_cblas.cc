#include "kernels/cpu/gemm_cblas.h"

#include <cblas.h>

namespace nio::kernels {
namespace {

CBLAS_TRANSPOSE ToCblas(GemmOp op) {
  return op == GemmOp::kTrans ? CblasTrans : CblasNoTrans;
}

}  // namespace

void GemmCblas(const GemmArgs& g, const float* a, const float* b, float* c) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.n == 1) {
    // op(A) (m, k) times one column of op(B). A is stored (m, k) when not
    // transposed, (k, m) when transposed; sgemv takes the stored shape.
    const int stored_rows = g.trans_a == GemmOp::kNoTrans ? g.m : g.k;
    const int stored_cols = g.trans_a == GemmOp::kNoTrans ? g.k : g.m;
    const int inc_b = g.trans_b == GemmOp::kNoTrans ? 1 : g.ldb;
    if (g.k == 0) {
      for (int i = 0; i < g.m; ++i) c[i] = g.beta == 0.0f ? 0.0f : g.beta * c[i];
      return;
    }
    cblas_sgemv(CblasColMajor, ToCblas(g.trans_a), stored_rows, stored_cols,
                g.alpha, a, g.lda, b, inc_b, g.beta, c, 1);
    return;
  }
  cblas_sgemm(CblasColMajor, ToCblas(g.trans_a), ToCblas(g.trans_b), g.m, g.n,
              g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, c, g.ldc);
}

void SetBlasThreads(int threads) { openblas_set_num_threads(threads); }

}  // namespace nio::kernels
