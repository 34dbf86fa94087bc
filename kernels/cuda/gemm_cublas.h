// Executes a GemmArgs (column-major BLAS terms) with cuBLAS: the very
// arguments the CPU tests check through cblas.
#ifndef NIO_KERNELS_CUDA_GEMM_CUBLAS_H_
#define NIO_KERNELS_CUDA_GEMM_CUBLAS_H_

#include <cublas_v2.h>

#include "absl/status/status.h"
#include "kernels/gemm_args.h"

namespace nio::kernels {

// a, b, c: device pointers. The handle's stream and math mode apply.
absl::Status GemmCublas(cublasHandle_t handle, const GemmArgs& args,
                        const float* a, const float* b, float* c);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CUDA_GEMM_CUBLAS_H_
