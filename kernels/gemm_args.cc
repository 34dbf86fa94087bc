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

GemmArgs LayerForwardRelu(int rows, int in, int out) {
  GemmArgs g = LayerForward(rows, in, out);
  g.epilogue = GemmEpilogue::kReluAuxBias;
  g.mask_ld = ReluMaskLd(out);
  return g;
}

GemmArgs FirstLayerForwardRelu(int rows, int k, int out) {
  GemmArgs g = LayerForward(rows, k, out, /*beta=*/1.0f);
  g.epilogue = GemmEpilogue::kReluAux;
  g.mask_ld = ReluMaskLd(out);
  return g;
}

GemmArgs LayerInputGradDRelu(int rows, int in, int out) {
  GemmArgs g = LayerInputGrad(rows, in, out);
  g.epilogue = GemmEpilogue::kDReluAux;
  g.mask_ld = ReluMaskLd(in);
  return g;
}

}  // namespace nio::kernels
