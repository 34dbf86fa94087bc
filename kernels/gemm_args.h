// GEMMs as data: every matrix product of the NIO step is described once, in
// column-major BLAS terms, by one builder per use. The CPU backend executes a
// GemmArgs with cblas (cpu/gemm_cblas.h), the CUDA backend with cuBLAS
// (cuda/gemm_cublas.h), so CPU tests check the exact arguments the GPU gets.
//
// Row-major data seen column-major is transposed: a row-major (r, c) matrix
// with leading dimension c is the column-major (c, r) matrix.
#ifndef NIO_KERNELS_GEMM_ARGS_H_
#define NIO_KERNELS_GEMM_ARGS_H_

namespace nio::kernels {

enum class GemmOp { kNoTrans, kTrans };

// C = alpha * op(A) * op(B) + beta * C, column-major: op(A) is (m, k), op(B)
// is (k, n), C is (m, n).
struct GemmArgs {
  GemmOp trans_a = GemmOp::kNoTrans;
  GemmOp trans_b = GemmOp::kNoTrans;
  int m = 0;
  int n = 0;
  int k = 0;
  float alpha = 1.0f;
  int lda = 0;
  int ldb = 0;
  float beta = 0.0f;
  int ldc = 0;
};

// Dense layer forward, row-major: x (rows, in), w (out, in), z (rows, out),
// z = x w^T (+ beta z). Column-major: z^T (out, rows) = w (out, in) x^T, with
// A = w (stored (in, out) col-major, transposed), B = x (in, rows).
// Call as Gemm(args, a = w, b = x, c = z).
GemmArgs LayerForward(int rows, int in, int out, float beta = 0.0f);

// Dense layer input gradient, row-major: dz (rows, out), w (out, in),
// dx (rows, in), dx = dz w. Column-major: dx^T (in, rows) = w^T (in, out)
// dz^T (out, rows), no transposes. Call as Gemm(args, a = w, b = dz, c = dx).
GemmArgs LayerInputGrad(int rows, int in, int out);

// A part of one GEMM: its arguments and the element offsets of its first
// elements into the whole product's A, B and C. Run it as
// Gemm(slice.args, a + a_offset, b + b_offset, c + c_offset); an offset that
// the cut does not move stays 0. How one product is split across cores when
// the batch is too small to split.
struct GemmSlice {
  GemmArgs args;
  long long a_offset = 0;
  long long b_offset = 0;
  long long c_offset = 0;
};

// Rows [m_begin, m_begin + m_count) of C (the feature dimension of row-major
// data): offsets into A and C, b_offset = 0. The slices of disjoint m ranges
// write disjoint parts of C.
GemmSlice SliceM(const GemmArgs& args, int m_begin, int m_count);

// [k_begin, k_begin + k_count) of the summed dimension: offsets into A and B,
// c_offset = 0. A partial product of the whole C shape; the partials of
// disjoint k ranges add up to the whole.
GemmSlice SliceK(const GemmArgs& args, int k_begin, int k_count);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_GEMM_ARGS_H_
