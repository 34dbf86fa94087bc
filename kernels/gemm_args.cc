#include "kernels/gemm_args.h"

namespace nio::kernels {

GemmArgs LayerForward(int rows, int in, int out, float beta) {
  GemmArgs g;
  g.trans_a = GemmOp::kTrans;
  g.trans_b = GemmOp::kNoTrans;
  g.m = out;
  g.n = rows;
  g.k = in;
  g.alpha = 1.0f;
  g.lda = in;
  g.ldb = in;
  g.beta = beta;
  g.ldc = out;
  return g;
}

GemmArgs LayerInputGrad(int rows, int in, int out) {
  GemmArgs g;
  g.trans_a = GemmOp::kNoTrans;
  g.trans_b = GemmOp::kNoTrans;
  g.m = in;
  g.n = rows;
  g.k = out;
  g.alpha = 1.0f;
  g.lda = in;
  g.ldb = out;
  g.beta = 0.0f;
  g.ldc = in;
  return g;
}

GemmSlice SliceM(const GemmArgs& args, int m_begin, int m_count) {
  GemmSlice s;
  s.args = args;
  s.args.m = m_count;
  // Row i of op(A) is row i of A, or column i of A when A is transposed.
  s.a_offset = args.trans_a == GemmOp::kNoTrans
                   ? m_begin
                   : static_cast<long long>(m_begin) * args.lda;
  s.c_offset = m_begin;
  return s;
}

GemmSlice SliceK(const GemmArgs& args, int k_begin, int k_count) {
  GemmSlice s;
  s.args = args;
  s.args.k = k_count;
  // Column i of op(A) is column i of A, or row i when A is transposed; row i
  // of op(B) is row i of B, or column i when B is transposed.
  s.a_offset = args.trans_a == GemmOp::kNoTrans
                   ? static_cast<long long>(k_begin) * args.lda
                   : k_begin;
  s.b_offset = args.trans_b == GemmOp::kNoTrans
                   ? k_begin
                   : static_cast<long long>(k_begin) * args.ldb;
  return s;
}

}  // namespace nio::kernels
