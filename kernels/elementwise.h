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

// The MLP's last layer, one output: prediction[r] = h[r, :] . w + bias[r *
// bias_row_stride], and, when grad is not null, the gradient that reaches its
// input, grad[r, j] = w[j] times the ReLU derivative of h (relu_input) or 1,
// since d prediction / d prediction = 1. A GEMM with n = 1 is mostly
// overhead; this is one pass. One thread per element of grad (per row when
// grad is null); the row's first thread computes the dot product.
struct TopLayerBody {
  float* prediction;    // (rows)
  float* grad;          // (rows, cols) or null
  const float* h;       // (rows, cols) the layer's input
  const float* w;       // (cols) the layer's weights
  const float* bias;    // the layer's bias, or a per-row offset
  int bias_row_stride;  // 0: one bias for all rows
  int rows;
  int cols;
  bool relu_input;  // h is a ReLU's output

  NIO_HD int64_t Size() const {
    return grad ? static_cast<int64_t>(rows) * cols : rows;
  }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t i = t.Global();
    if (i >= Size()) return;
    const int64_t row = grad ? i / cols : i;
    const int64_t col = grad ? i - row * cols : 0;
    const float* hr = h + row * cols;
    if (grad) {
      grad[i] = relu_input ? ReluBackward(w[col], hr[col]) : w[col];
    }
    if (col != 0) return;
    float sum = 0.0f;
    for (int c = 0; c < cols; ++c) sum += hr[c] * w[c];
    prediction[row] = sum + bias[row * bias_row_stride];
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

// The state arrays one CopyRowsBody launch copies, at most.
inline constexpr int kMaxCopyArrays = 32;

// One state array of a row copy: rows of `units` units of unit_bytes (1 or
// 4) bytes each, read from src and written to dst (the same array for a
// move).
struct RowCopyArray {
  const unsigned char* src;
  unsigned char* dst;
  int unit_bytes;
  int units;
};

// Copies `count` rows of every array in one launch: row from[i] of each src
// to row to[i] of its dst (from/to null: from_first + i, to_first + i).
// Admitting and compacting a slot touches some twenty state arrays; one
// launch instead of one each. Moves within an array must not chain
// (row_moves.h), so no thread reads what another writes.
struct CopyRowsBody {
  RowCopyArray arrays[kMaxCopyArrays];
  int num_arrays;
  int record_units;  // the sum of the arrays' units
  const int* from;
  const int* to;
  int from_first;
  int to_first;
  int count;

  NIO_HD int64_t Size() const {
    return static_cast<int64_t>(count) * record_units;
  }
  NIO_HD void operator()(ThreadIndex t) const {
    const int64_t i = t.Global();
    if (i >= Size()) return;
    const int64_t r = i / record_units;
    int u = static_cast<int>(i - r * record_units);
    int a = 0;
    while (u >= arrays[a].units) u -= arrays[a++].units;
    const RowCopyArray& array = arrays[a];
    const int64_t src_row = from ? from[r] : from_first + r;
    const int64_t dst_row = to ? to[r] : to_first + r;
    const int64_t row_bytes =
        static_cast<int64_t>(array.units) * array.unit_bytes;
    const int64_t offset = static_cast<int64_t>(u) * array.unit_bytes;
    const unsigned char* s = array.src + src_row * row_bytes + offset;
    unsigned char* d = array.dst + dst_row * row_bytes + offset;
    if (array.unit_bytes == 4) {
      *reinterpret_cast<uint32_t*>(d) = *reinterpret_cast<const uint32_t*>(s);
    } else {
      *d = *s;
    }
  }
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_ELEMENTWISE_H_
