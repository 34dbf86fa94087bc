// Executes a GemmArgs with cblas: how the tests check the exact GEMM
// descriptors the CUDA backend hands cuBLAS (kernels/gemm_args.h) on a
// machine without a GPU.
#ifndef NIO_TESTS_CBLAS_GEMM_H_
#define NIO_TESTS_CBLAS_GEMM_H_

#include <cstdint>

#include "kernels/gemm_args.h"

namespace nio::kernels {

// C = alpha * op(A) op(B) + beta * C as described by args (column-major);
// args.epilogue must be kNone.
void GemmCblas(const GemmArgs& args, const float* a, const float* b, float* c);

// The whole descriptor, epilogue included, as cuBLASLt runs it:
// D = epilogue(alpha op(A) op(B) + beta C), C copied into D first when they
// differ, then GemmEpilogueBody on the host grid (bias and mask as the
// epilogue needs them, gemm_epilogue.h).
void GemmCblas(const GemmArgs& args, const float* a, const float* b,
               const float* c, float* d, const float* bias, uint32_t* mask);

}  // namespace nio::kernels

#endif  // NIO_TESTS_CBLAS_GEMM_H_
