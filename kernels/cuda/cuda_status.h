// CUDA and cuBLAS results as absl::Status: INTERNAL with file:line, the call
// and the driver's message. Every fallible CUDA call and every kernel launch
// goes through these.
#ifndef NIO_KERNELS_CUDA_CUDA_STATUS_H_
#define NIO_KERNELS_CUDA_CUDA_STATUS_H_

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nio::kernels {

// Errors after which the context is unusable: every later call returns
// them, and only a new process recovers (Backend::Health reports them).
inline bool IsStickyCudaError(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

// A failed call's error as a Status. A non-sticky error is also cleared
// here, where it happened, so the next launch check does not blame an
// innocent kernel.
inline absl::Status CudaStatus(cudaError_t e, const char* call,
                               const char* file, int line) {
  if (e == cudaSuccess) return absl::OkStatus();
  if (!IsStickyCudaError(e)) cudaGetLastError();
  return absl::InternalError(absl::StrCat(file, ":", line, ": ", call, ": ",
                                          cudaGetErrorName(e), ": ",
                                          cudaGetErrorString(e)));
}

inline absl::Status CublasStatus(cublasStatus_t e, const char* call,
                                 const char* file, int line) {
  if (e == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(file, ":", line, ": ", call, ": cuBLAS status ",
                   static_cast<int>(e), " (", cublasGetStatusString(e), ")"));
}

}  // namespace nio::kernels

#define NIO_RETURN_IF_CUDA_ERROR(expr)                                     \
  do {                                                                     \
    if (::absl::Status nio_cuda_status_ =                                  \
            ::nio::kernels::CudaStatus((expr), #expr, __FILE__, __LINE__); \
        !nio_cuda_status_.ok()) {                                          \
      return nio_cuda_status_;                                             \
    }                                                                      \
  } while (0)

#define NIO_RETURN_IF_CUBLAS_ERROR(expr)                                     \
  do {                                                                       \
    if (::absl::Status nio_cublas_status_ =                                  \
            ::nio::kernels::CublasStatus((expr), #expr, __FILE__, __LINE__); \
        !nio_cublas_status_.ok()) {                                          \
      return nio_cublas_status_;                                             \
    }                                                                        \
  } while (0)

#endif  // NIO_KERNELS_CUDA_CUDA_STATUS_H_
