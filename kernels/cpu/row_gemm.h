// RowGemm: the CPU backend's matrix product, C = X W^T for row-major rows X
// (rows, k) and weights W seen as (out, k), computed so that every output
// element is summed in one fixed order: k is cut into blocks of
// kRowGemmKBlock, each block is a fused multiply-add chain from zero, and the
// blocks' sums are added in order:
//   c = 0; for each block B: s = 0; for j in B: s = fma(X[r, j], W(o, j), s);
//                            c = (B first) ? s : c + s
// (blocking keeps the rounding error at a BLAS's level for k = 768). A row's
// bits therefore depend only on that row and the weights, never on
// the other rows, the row count, the output range a worker computes or the
// instruction set (an FMA is exactly rounded, in a vector lane or not). That
// is what makes a track's answer the same whatever else is in the batch; a
// BLAS picks its accumulation order by the shape of the whole product.
#ifndef NIO_KERNELS_CPU_ROW_GEMM_H_
#define NIO_KERNELS_CPU_ROW_GEMM_H_

#include <cstddef>
#include <memory>

namespace nio::kernels {

// Outputs are packed and computed in blocks of this many.
inline constexpr int kRowGemmOutBlock = 16;
// The summation blocks of k (see above).
inline constexpr int kRowGemmKBlock = 128;

// W packed for RowGemm: blocks of kRowGemmOutBlock outputs, each (k,
// kRowGemmOutBlock) with the outputs contiguous, the last block padded with
// zeros. Built once per weight matrix.
class PackedWeights {
 public:
  PackedWeights() = default;
  // Element (o, j) of W is src[o * out_stride + j * k_stride]: a row-major
  // (out, k) matrix is (k, 1), its transpose seen as (out, k) is (1, out).
  PackedWeights(const float* src, int out, int k, size_t out_stride,
                size_t k_stride);

  int Out() const { return out_; }
  int K() const { return k_; }
  // Block b: k rows of kRowGemmOutBlock floats, 32-byte aligned.
  const float* Block(int b) const {
    return data_.get() + static_cast<size_t>(b) * k_ * kRowGemmOutBlock;
  }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  int out_ = 0;
  int k_ = 0;
  std::unique_ptr<float[], Free> data_;
};

// C[r, o] = sum_j X[r, j] W(o, j) (see the top of the file) for r < rows and
// o in [out_begin, out_end). x: (rows, w.K()) with leading dimension ldx;
// c: leading dimension ldc; only the named elements of C are written.
// out_begin must be a multiple of kRowGemmOutBlock.
void RowGemm(const PackedWeights& w, const float* x, size_t ldx, int rows,
             float* c, size_t ldc, int out_begin, int out_end);

// The same product in the same order, one scalar fma at a time: the path on
// CPUs without AVX2/FMA, and the bit-for-bit reference the vector path is
// tested against.
void RowGemmPortable(const PackedWeights& w, const float* x, size_t ldx,
                     int rows, float* c, size_t ldc, int out_begin,
                     int out_end);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_CPU_ROW_GEMM_H_
