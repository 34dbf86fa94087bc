// RunOnHost: executes a kernel body over a launch geometry on the CPU, blocks
// then threads, exactly the indices a CUDA launch of RunBody would produce.
#ifndef NIO_KERNELS_HOST_GRID_H_
#define NIO_KERNELS_HOST_GRID_H_

#include "kernels/launch_geometry.h"

namespace nio::kernels {

template <class Body>
void RunOnHost(const LaunchGeometry& geometry, const Body& body) {
  for (int block = 0; block < geometry.blocks; ++block) {
    for (int thread = 0; thread < geometry.block_size; ++thread) {
      body(ThreadIndex{block, geometry.block_size, thread});
    }
  }
}

// Convenience: the elementwise geometry for body.Size() elements.
template <class Body>
void RunElementwiseOnHost(const Body& body) {
  RunOnHost(ElementwiseGeometry(body.Size()), body);
}

}  // namespace nio::kernels

#endif  // NIO_KERNELS_HOST_GRID_H_
