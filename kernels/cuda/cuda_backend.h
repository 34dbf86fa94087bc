// The CUDA backend's entry points, in plain C++ (no CUDA headers), so the
// factory can call them without pulling the CUDA runtime into other code.
// Only built with NIO_ENABLE_CUDA.
#ifndef NIO_KERNELS_CUDA_CUDA_BACKEND_H_
#define NIO_KERNELS_CUDA_CUDA_BACKEND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace nio::kernels {

// Usable CUDA devices; 0 with the reason in *reason (no driver, no device).
int CudaUsableDeviceCount(std::string* reason);

// A Backend on CUDA device 0: cuBLAS for the products, the kernel bodies of
// elementwise.h for the rest, one stream, a step captured as a CUDA graph and
// replayed while the number of active rows is unchanged.
// FAILED_PRECONDITION without a device; INTERNAL for CUDA/cuBLAS failures.
absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(
    const MlpWeights& mlp, std::vector<int> movable_columns,
    const BackendOptions& options);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CUDA_CUDA_BACKEND_H_
