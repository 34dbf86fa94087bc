#include "tests/cblas_gemm.h"

#include <cblas.h>

namespace nio::kernels {
namespace {

CBLAS_TRANSPOSE ToCblas(GemmOp op) {
  return op == GemmOp::kTrans ? CblasTrans : CblasNoTrans;
}

}  // namespace

void GemmCblas(const GemmArgs& g, const float* a, const float* b, float* c) {
  if (g.m <= 0 || g.n <= 0) return;
  cblas_sgemm(CblasColMajor, ToCblas(g.trans_a), ToCblas(g.trans_b), g.m, g.n,
              g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, c, g.ldc);
}

}  // namespace nio::kernels
