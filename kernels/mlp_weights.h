// The frozen MLP as the backends consume it: dense layers, ReLU between them,
// identity after the last one, a single output (the popularity).
#ifndef NIO_KERNELS_MLP_WEIGHTS_H_
#define NIO_KERNELS_MLP_WEIGHTS_H_

#include <vector>

#include "absl/status/status.h"

namespace nio::kernels {

struct DenseLayer {
  int in = 0;
  int out = 0;
  std::vector<float> weight;  // (out, in) row-major, as torch.nn.Linear.
  std::vector<float> bias;    // (out)
};

struct MlpWeights {
  std::vector<DenseLayer> layers;

  int InputSize() const { return layers.empty() ? 0 : layers.front().in; }
};

// OK when the layers chain (out of one = in of the next), end in one output,
// and every buffer has the size its shape says; INVALID_ARGUMENT otherwise.
absl::Status ValidateMlp(const MlpWeights& mlp);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_MLP_WEIGHTS_H_
