// Kernel bodies for the elementwise work of the batched NIO step. Each body is
// a trivially copyable struct of raw pointers and sizes; operator() computes
// the global index, checks bounds, and calls the scalar math in mlp_math.h.
// The CUDA launcher (cuda/launch.cuh) and RunOnHost (host_grid.h) run the very
// same bodies. No shared memory, no synchronisation.
//
// Layouts: all matrices row-major, one row per track slot.
#ifndef NIO_KERNELS_ELEMENTWISE_H_
#define NIO_KERNELS_ELEMENTWISE_H_

#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/launch_geometry.h"
#include "kernels/mlp_math.h"

namespace nio::kernels {

// z: (rows, cols); bias: a row of cols (bias_row_stride 0, the layer bias) or
// a (rows, cols) matrix (bias_row_stride = cols, the first layer's fixed part
// x0 W1^T + b1 per track). z <- act(z + bias), act = relu or identity.
struct BiasActivationBody {
  float* z;
  const float* bias;
  int rows;
  int cols;
  int bias_row_stride;
  bool relu;

  NIO_HD int64_t Size() const { return static_cast<int64_t>(rows) * cols; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t i = t.Global();
    if (i >= Size()) return;
    const int64_t row = i / cols;
    const int64_t col = i - row * cols;
    const float value = z[i] + bias[row * bias_row_stride + col];
    z[i] = relu ? Relu(value) : value;
  }
};

// grad, h: (rows, cols). grad <- grad * [h > 0] (the ReLU backward mask).
struct ReluBackwardBody {
  float* grad;
  const float* h;
  int64_t n;

  NIO_HD int64_t Size() const { return n; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t i = t.Global();
    if (i >= n) return;
    grad[i] = ReluBackward(grad[i], h[i]);
  }
};

// x: (n) <- value. Seeds the backward pass with df/df = 1.
struct FillBody {
  float* x;
  float value;
  int64_t n;

  NIO_HD int64_t Size() const { return n; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t i = t.Global();
    if (i >= n) return;
    x[i] = value;
  }
};

// x: (rows, n_in); p: (rows, cols); columns: (cols) indices into n_in.
// x[row, columns[c]] <- p[row, c]: writes the movable features into inputs.
struct ScatterColumnsBody {
  float* x;
  const float* p;
  const int* columns;
  int rows;
  int cols;
  int n_in;

  NIO_HD int64_t Size() const { return static_cast<int64_t>(rows) * cols; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t i = t.Global();
    if (i >= Size()) return;
    const int64_t row = i / cols;
    const int64_t c = i - row * cols;
    x[row * n_in + columns[c]] = p[i];
  }
};

// x: (rows, n_in); p: (rows, cols). p[row, c] <- x[row, columns[c]].
struct GatherColumnsBody {
  float* p;
  const float* x;
  const int* columns;
  int rows;
  int cols;
  int n_in;

  NIO_HD int64_t Size() const { return static_cast<int64_t>(rows) * cols; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t i = t.Global();
    if (i >= Size()) return;
    const int64_t row = i / cols;
    const int64_t c = i - row * cols;
    p[i] = x[row * n_in + columns[c]];
  }
};

// data: (slots, width). For each move m: row to[m] <- row from[m]. The
// caller guarantees no row is both a source and a destination (row_moves.h),
// so the threads of one launch never read what another writes.
template <class T>
struct MoveRowsBody {
  T* data;
  const int* from;
  const int* to;
  int moves;
  int width;

  NIO_HD int64_t Size() const { return static_cast<int64_t>(moves) * width; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t i = t.Global();
    if (i >= Size()) return;
    const int64_t m = i / width;
    const int64_t c = i - m * width;
    data[static_cast<int64_t>(to[m]) * width + c] =
        data[static_cast<int64_t>(from[m]) * width + c];
  }
};

// data: (slots, width); out: (count, width). out[i, :] <- data[rows[i], :]:
// reads the state of a few scattered slots (the tracks that leave) into one
// dense block, so only those cross to the host.
template <class T>
struct GatherRowsBody {
  T* out;
  const T* data;
  const int* rows;
  int count;
  int width;

  NIO_HD int64_t Size() const { return static_cast<int64_t>(count) * width; }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t i = t.Global();
    if (i >= Size()) return;
    const int64_t r = i / width;
    const int64_t c = i - r * width;
    out[i] = data[static_cast<int64_t>(rows[r]) * width + c];
  }
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_ELEMENTWISE_H_
