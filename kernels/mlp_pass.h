// The batched MLP passes of the CUDA backend, written once as a sequence of
// GEMM descriptors (gemm_args.h) and kernel bodies (elementwise.h) over an
// executor: the CUDA backend's executor enqueues them on its stream
// (cuBLASLt, cuBLAS, RunBody), the tests' executor runs the very same
// sequence with cblas and the host grid, so the order, the descriptors and
// every pointer offset the GPU gets are checked against the CPU backend on a
// machine without a GPU.
//
// An executor provides
//   absl::Status Gemm(const GemmArgs& g, const float* a, const float* b,
//                     const float* c, float* d, const float* bias,
//                     uint32_t* mask);   // D = epilogue(op(A) op(B) + beta C)
//   template <class Body> absl::Status Run(const Body& body);
//
// Layers: l = 0 .. L-1, H_l = layers[l].out, the last has one output.
// fused: each hidden layer is one GEMM with its bias and ReLU as the
// epilogue (RELU_AUX_BIAS, the first layer RELU_AUX over the fixed part as
// C) writing the ReLU mask, and each backward GEMM applies the mask below it
// (DRELU); otherwise the same with a separate bias/ReLU pass after each
// forward GEMM and a ReLU-backward pass after each backward one. The last
// layer is one TopLayerBody pass either way (forward and the gradient that
// enters the backward pass).
#ifndef NIO_KERNELS_MLP_PASS_H_
#define NIO_KERNELS_MLP_PASS_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "kernels/elementwise.h"
#include "kernels/gemm_args.h"
#include "kernels/gemm_epilogue.h"
#include "kernels/status_macros.h"

namespace nio::kernels {

struct MlpPassLayer {
  const float* w = nullptr;  // (out, in) row-major
  const float* b = nullptr;  // (out)
  int in = 0;
  int out = 0;
};

// Weights and scratch of the passes; scratch holds rows [0, max rows).
struct MlpPass {
  std::vector<MlpPassLayer> layers;
  const float* w1_movable = nullptr;  // (H_0, k_cols) W1's movable columns
  int k_cols = 0;
  bool fused = false;
  std::vector<float*> act;  // per hidden layer l < L-1: (rows, H_l)
  std::vector<uint32_t*>
      relu_mask;            // per hidden layer: ReluMaskWords(H_l, rows)
  float* grad_a = nullptr;  // (rows, max H) ping-pong
  float* grad_b = nullptr;
};

namespace mlp_pass_internal {

// Hidden layer l >= 1 forward: act[l] = relu(act[l-1] W_l^T + b_l).
template <class Exec>
absl::Status HiddenForward(Exec& exec, const MlpPass& pass, size_t l,
                           const float* in, int rows) {
  const MlpPassLayer& layer = pass.layers[l];
  if (pass.fused) {
    return exec.Gemm(LayerForwardRelu(rows, layer.in, layer.out), layer.w, in,
                     nullptr, pass.act[l], layer.b, pass.relu_mask[l]);
  }
  NIO_RETURN_IF_ERROR(exec.Gemm(LayerForward(rows, layer.in, layer.out),
                                layer.w, in, nullptr, pass.act[l], nullptr,
                                nullptr));
  return exec.Run(
      BiasActivationBody{pass.act[l], layer.b, rows, layer.out, 0, true});
}

template <class Exec>
absl::Status HiddenForwardFrom(Exec& exec, const MlpPass& pass, int rows) {
  for (size_t l = 1; l + 1 < pass.layers.size(); ++l) {
    NIO_RETURN_IF_ERROR(HiddenForward(exec, pass, l, pass.act[l - 1], rows));
  }
  return absl::OkStatus();
}

}  // namespace mlp_pass_internal

// Plain forward: x (rows, H_in) -> prediction (rows).
template <class Exec>
absl::Status RunMlpForward(Exec& exec, const MlpPass& pass, const float* x,
                           int rows, float* prediction) {
  using namespace mlp_pass_internal;
  const size_t num_layers = pass.layers.size();
  const MlpPassLayer& top = pass.layers.back();
  if (num_layers == 1) {
    return exec.Run(TopLayerBody{prediction, nullptr, x, top.w, top.b, 0, rows,
                                 top.in, false});
  }
  // The input layer runs unfused: x's rows (n_in floats) are not aligned
  // for cuBLASLt's epilogue kernels, and a plain forward is not the step's
  // hot path. The hidden layers after it fuse as in a step.
  const MlpPassLayer& first = pass.layers.front();
  NIO_RETURN_IF_ERROR(exec.Gemm(LayerForward(rows, first.in, first.out),
                                first.w, x, nullptr, pass.act[0], nullptr,
                                nullptr));
  NIO_RETURN_IF_ERROR(exec.Run(
      BiasActivationBody{pass.act[0], first.b, rows, first.out, 0, true}));
  NIO_RETURN_IF_ERROR(HiddenForwardFrom(exec, pass, rows));
  return exec.Run(TopLayerBody{prediction, nullptr, pass.act[num_layers - 2],
                               top.w, top.b, 0, rows, top.in, true});
}

// One NIO evaluation of `rows` tracks: from the movable features p (rows,
// k_cols) and each track's fixed part (rows, H_0), the prediction (rows)
// and its input gradient df_dp (rows, k_cols).
template <class Exec>
absl::Status RunMlpStep(Exec& exec, const MlpPass& pass, const float* p,
                        const float* fixed, int rows, float* prediction,
                        float* df_dp) {
  using namespace mlp_pass_internal;
  const size_t num_layers = pass.layers.size();
  const MlpPassLayer& first = pass.layers.front();
  const int k = pass.k_cols;
  if (num_layers == 1) {
    // A linear model: the fixed part already holds x0 W^T + b.
    return exec.Run(TopLayerBody{prediction, df_dp, p, pass.w1_movable, fixed,
                                 1, rows, k, false});
  }
  if (pass.fused) {
    NIO_RETURN_IF_ERROR(exec.Gemm(FirstLayerForwardRelu(rows, k, first.out),
                                  pass.w1_movable, p, fixed, pass.act[0],
                                  nullptr, pass.relu_mask[0]));
  } else {
    NIO_RETURN_IF_ERROR(exec.Gemm(LayerForward(rows, k, first.out),
                                  pass.w1_movable, p, nullptr, pass.act[0],
                                  nullptr, nullptr));
    NIO_RETURN_IF_ERROR(exec.Run(BiasActivationBody{
        pass.act[0], fixed, rows, first.out, first.out, true}));
  }
  NIO_RETURN_IF_ERROR(HiddenForwardFrom(exec, pass, rows));
  // The top layer: the prediction and the gradient at its input, already
  // through the ReLU of the layer below.
  const MlpPassLayer& top = pass.layers.back();
  float* grad = pass.grad_a;
  float* next = pass.grad_b;
  NIO_RETURN_IF_ERROR(
      exec.Run(TopLayerBody{prediction, grad, pass.act[num_layers - 2], top.w,
                            top.b, 0, rows, top.in, true}));
  // grad is d prediction / d Z_l for l = L-2 .. 1 in turn; each GEMM takes
  // it through W_l and the ReLU of layer l-1.
  for (size_t l = num_layers - 2; l >= 1; --l) {
    const MlpPassLayer& layer = pass.layers[l];
    if (pass.fused) {
      NIO_RETURN_IF_ERROR(
          exec.Gemm(LayerInputGradDRelu(rows, layer.in, layer.out), layer.w,
                    grad, nullptr, next, nullptr, pass.relu_mask[l - 1]));
    } else {
      NIO_RETURN_IF_ERROR(exec.Gemm(LayerInputGrad(rows, layer.in, layer.out),
                                    layer.w, grad, nullptr, next, nullptr,
                                    nullptr));
      NIO_RETURN_IF_ERROR(exec.Run(ReluBackwardBody{
          next, pass.act[l - 1], static_cast<int64_t>(rows) * layer.in}));
    }
    std::swap(grad, next);
  }
  return exec.Gemm(LayerInputGrad(rows, k, first.out), pass.w1_movable, grad,
                   nullptr, df_dp, nullptr, nullptr);
}

}  // namespace nio::kernels

#endif  // NIO_KERNELS_MLP_PASS_H_
