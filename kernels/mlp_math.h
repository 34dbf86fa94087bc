// Scalar math of the MLP and of the NIO update, one formula in one place.
// Every kernel body and the CPU backend call these; nothing retypes them.
// C math and f literals only: this header is compiled for the device too.
#ifndef NIO_KERNELS_MLP_MATH_H_
#define NIO_KERNELS_MLP_MATH_H_

#include <math.h>

#include "kernels/host_device.h"

namespace nio::kernels {

// Adam as PyTorch's torch.optim.Adam with its defaults.
inline constexpr float kAdamBeta1 = 0.9f;
inline constexpr float kAdamBeta2 = 0.999f;
inline constexpr float kAdamEps = 1e-8f;
// PyTorch computes 1 - beta in Python (double) and rounds the result to float;
// 1.0f - 0.999f differs from that by 1.3e-5 relative.
inline constexpr float kAdamOneMinusBeta1 = static_cast<float>(1.0 - 0.9);
inline constexpr float kAdamOneMinusBeta2 = static_cast<float>(1.0 - 0.999);
// The reference mode clamps every scaled mutable feature to +-3 each step.
inline constexpr float kScaledClampLimit = 3.0f;

NIO_HD inline float Relu(float z) { return z > 0.0f ? z : 0.0f; }

// d relu / dz expressed through the activation: relu(z) > 0 iff z > 0, so the
// backward pass needs only H, never Z.
NIO_HD inline float ReluBackward(float grad_h, float h) {
  return h > 0.0f ? grad_h : 0.0f;
}

NIO_HD inline float ClampTo(float x, float lo, float hi) {
  return fminf(fmaxf(x, lo), hi);
}

// Gradient of lambda * mean_j (p_j - p0_j)^2 with respect to p_j, the mean
// taken over the k mutable features of the row.
NIO_HD inline float ProximityGrad(float p, float p0, float lambda, int k) {
  return k > 0 ? (2.0f * lambda / static_cast<float>(k)) * (p - p0) : 0.0f;
}

// Gradient of the NIO loss -f(x(p)) + lambda * mean_j (p_j - p0_j)^2.
NIO_HD inline float NioLossGrad(float df_dp, float p, float p0, float lambda,
                                int k) {
  return -df_dp + ProximityGrad(p, p0, lambda, k);
}

// One Adam step (t >= 1 is the step number after this update), exactly as
// torch.optim.Adam: moments, bias correction, eps added after the sqrt. The
// bias corrections are computed in double and rounded once, as PyTorch does
// them in Python. Updates m and v in place and returns the new parameter.
NIO_HD inline float AdamStep(float p, float g, float* m, float* v, int t,
                             float lr) {
  const float m_new = kAdamBeta1 * *m + kAdamOneMinusBeta1 * g;
  const float v_new = kAdamBeta2 * *v + kAdamOneMinusBeta2 * g * g;
  *m = m_new;
  *v = v_new;
  const double td = static_cast<double>(t);
  const float step_size =
      static_cast<float>(static_cast<double>(lr) / (1.0 - pow(0.9, td)));
  const float bias_correction2_sqrt =
      static_cast<float>(sqrt(1.0 - pow(0.999, td)));
  const float denom = sqrtf(v_new) / bias_correction2_sqrt + kAdamEps;
  return p - step_size * (m_new / denom);
}

// The whole per-element NIO update of one mutable feature: loss gradient,
// Adam, then the clamp to [lo, hi] (the +-3 box in reference mode, the image
// of the realistic range in projected mode).
NIO_HD inline float NioUpdate(float p, float p0, float df_dp, float* m,
                              float* v, int t, float lr, float lambda, int k,
                              float lo, float hi) {
  const float g = NioLossGrad(df_dp, p, p0, lambda, k);
  return ClampTo(AdamStep(p, g, m, v, t, lr), lo, hi);
}

}  // namespace nio::kernels

#endif  // NIO_KERNELS_MLP_MATH_H_
