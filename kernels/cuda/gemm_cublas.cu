#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/gemm_cublas.h"

namespace nio::kernels {
namespace {

cublasOperation_t ToCublas(GemmOp op) {
  return op == GemmOp::kTrans ? CUBLAS_OP_T : CUBLAS_OP_N;
}

}  // namespace

absl::Status GemmCublas(cublasHandle_t handle, const GemmArgs& g,
                        const float* a, const float* b, float* c) {
  if (g.m <= 0 || g.n <= 0) return absl::OkStatus();
  NIO_RETURN_IF_CUBLAS_ERROR(
      cublasSgemm(handle, ToCublas(g.trans_a), ToCublas(g.trans_b), g.m, g.n,
                  g.k, &g.alpha, a, g.lda, b, g.ldb, &g.beta, c, g.ldc));
  return absl::OkStatus();
}

}  // namespace nio::kernels
