// Executes a GemmArgs with cblas: how the tests check the exact GEMM
// descriptors the CUDA backend hands cuBLAS (kernels/gemm_args.h) on a
// machine without a GPU.
#ifndef NIO_TESTS_CBLAS_GEMM_H_
#define NIO_TESTS_CBLAS_GEMM_H_

#include "kernels/gemm_args.h"

namespace nio::kernels {

// C = alpha * op(A) op(B) + beta * C as described by args (column-major).
void GemmCblas(const GemmArgs& args, const float* a, const float* b, float* c);

}  // namespace nio::kernels

#endif  // NIO_TESTS_CBLAS_GEMM_H_
