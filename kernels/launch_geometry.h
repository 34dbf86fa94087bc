// Launch geometry shared by the CUDA launcher and the host grid executor, so a
// kernel body sees the same indices on both and tail mistakes show on the CPU.
#ifndef NIO_KERNELS_LAUNCH_GEOMETRY_H_
#define NIO_KERNELS_LAUNCH_GEOMETRY_H_

#include <cstdint>

#include "kernels/host_device.h"

namespace nio::kernels {

inline constexpr int kElementwiseBlockSize = 256;

// The position of one thread: what blockIdx/blockDim/threadIdx say in x.
struct ThreadIndex {
  int block;
  int block_size;
  int thread;
  NIO_HD int64_t Global() const {
    return static_cast<int64_t>(block) * block_size + thread;
  }
};

struct LaunchGeometry {
  int blocks = 0;
  int block_size = kElementwiseBlockSize;
};

// One thread per element; the last block is partly idle, so bodies must check
// bounds. n <= 0 gives an empty launch.
inline LaunchGeometry ElementwiseGeometry(int64_t n) {
  LaunchGeometry g;
  g.blocks = n <= 0 ? 0
                    : static_cast<int>((n + kElementwiseBlockSize - 1) /
                                       kElementwiseBlockSize);
  return g;
}

}  // namespace nio::kernels

#endif  // NIO_KERNELS_LAUNCH_GEOMETRY_H_
