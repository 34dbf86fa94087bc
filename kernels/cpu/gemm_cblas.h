// Executes a GemmArgs (column-major BLAS terms) with cblas on the CPU.
#ifndef NIO_KERNELS_CPU_GEMM_CBLAS_H_
#define NIO_KERNELS_CPU_GEMM_CBLAS_H_

#include "kernels/gemm_args.h"

namespace nio::kernels {

// C = alpha op(A) op(B) + beta C as described by args. A single-column
// product (n == 1) goes to sgemv: same result, no packing of A per call.
void GemmCblas(const GemmArgs& args, const float* a, const float* b, float* c);

// Limits the BLAS library's own threading (the CPU backend runs its own
// workers and wants each cblas call on the calling thread).
void SetBlasThreads(int threads);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CPU_GEMM_CBLAS_H_
