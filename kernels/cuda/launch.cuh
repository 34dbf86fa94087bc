// The one __global__ kernel: RunBody<Body> builds the ThreadIndex from
// blockIdx/blockDim/threadIdx and calls the body, exactly as RunOnHost does
// on the CPU. Launch() takes its geometry from ElementwiseGeometry and checks
// the launch.
#ifndef NIO_KERNELS_CUDA_LAUNCH_CUH_
#define NIO_KERNELS_CUDA_LAUNCH_CUH_

#include <cuda_runtime.h>

#include "kernels/cuda/cuda_status.h"
#include "kernels/launch_geometry.h"

namespace nio::kernels {

// __grid_constant__: the body is read in place from the parameter space, not
// copied per thread (CopyRowsBody indexes its array table at run time).
template <class Body>
__global__ void RunBody(const __grid_constant__ Body body) {
  body(ThreadIndex{static_cast<int>(blockIdx.x), static_cast<int>(blockDim.x),
                   static_cast<int>(threadIdx.x)});
}

template <class Body>
absl::Status Launch(const Body& body, cudaStream_t stream) {
  const LaunchGeometry g = ElementwiseGeometry(body.Size());
  if (g.blocks == 0) return absl::OkStatus();
  RunBody<Body><<<g.blocks, g.block_size, 0, stream>>>(body);
  NIO_RETURN_IF_CUDA_ERROR(cudaGetLastError());
  return absl::OkStatus();
}

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CUDA_LAUNCH_CUH_
