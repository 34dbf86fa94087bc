// GEMMs as data: every matrix product of the CUDA backend's NIO step is
// described once, in column-major BLAS terms, by one builder per use. The CUDA
// backend executes a GemmArgs with cuBLAS (cuda/gemm_cublas.h); the tests
// execute the same descriptors with cblas (tests/cblas_gemm.h), so a machine
// without a GPU checks the exact arguments the GPU gets. (The CPU backend
// computes its products with RowGemm, cpu/row_gemm.h, for batch invariance.)
//
// Row-major data seen column-major is transposed: a row-major (r, c) matrix
// with leading dimension c is the column-major (c, r) matrix.
#ifndef NIO_KERNELS_GEMM_ARGS_H_
#define NIO_KERNELS_GEMM_ARGS_H_

#include <cstdint>

#include "kernels/gemm_epilogue.h"

namespace nio::kernels {

enum class GemmOp { kNoTrans, kTrans };

// D = epilogue(alpha * op(A) * op(B) + beta * C), column-major: op(A) is
// (m, k), op(B) is (k, n), C and D are (m, n) with leading dimension ldc (D
// may be C). A ReLU epilogue's mask has leading dimension mask_ld bits
// (gemm_epilogue.h).
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
  GemmEpilogue epilogue = GemmEpilogue::kNone;
  int64_t mask_ld = 0;
};

// Dense layer forward, row-major: x (rows, in), w (out, in), z (rows, out),
// z = x w^T (+ beta z). Column-major: z^T (out, rows) = w (out, in) x^T, with
// A = w (stored (in, out) col-major, transposed), B = x (in, rows).
// Call as Gemm(args, a = w, b = x, c = z).
GemmArgs LayerForward(int rows, int in, int out, float beta = 0.0f);

// The same with the layer's bias and ReLU fused, the ReLU's mask written:
// z = relu(x w^T + b). Call with bias = b, mask = the layer's mask.
GemmArgs LayerForwardRelu(int rows, int in, int out);

// The first layer of a NIO step: z = relu(p w1m^T + fixed), p (rows, k) the
// movable features, w1m (out, k) W1's movable columns, fixed (rows, out) the
// track's constant part x0 W1^T + b1 as C (beta 1), the mask written. Call
// as Gemm(args, a = w1m, b = p, c = fixed, d = z).
GemmArgs FirstLayerForwardRelu(int rows, int k, int out);

// Dense layer input gradient, row-major: dz (rows, out), w (out, in),
// dx (rows, in), dx = dz w. Column-major: dx^T (in, rows) = w^T (in, out)
// dz^T (out, rows), no transposes. Call as Gemm(args, a = w, b = dz, c = dx).
GemmArgs LayerInputGrad(int rows, int in, int out);

// The same times the ReLU derivative of the layer below, read from that
// layer's forward mask: dx = (dz w) * [x > 0].
GemmArgs LayerInputGradDRelu(int rows, int in, int out);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_GEMM_ARGS_H_
