#include "kernels/mlp_weights.h"

#include <cstddef>

#include "absl/strings/str_cat.h"

namespace nio::kernels {

absl::Status ValidateMlp(const MlpWeights& mlp) {
  if (mlp.layers.empty()) {
    return absl::InvalidArgumentError("MLP has no layers");
  }
  for (size_t i = 0; i < mlp.layers.size(); ++i) {
    const DenseLayer& l = mlp.layers[i];
    if (l.in <= 0 || l.out <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", i, ": sizes must be positive, got in=", l.in,
                       " out=", l.out));
    }
    if (l.weight.size() != static_cast<size_t>(l.in) * l.out) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", i, ": weight has ", l.weight.size(),
                       " values, expected ", l.out, "x", l.in));
    }
    if (l.bias.size() != static_cast<size_t>(l.out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", i, ": bias has ", l.bias.size(),
                       " values, expected ", l.out));
    }
    if (i > 0 && mlp.layers[i - 1].out != l.in) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", i, ": input size ", l.in,
                       " does not match the previous layer's output ",
                       mlp.layers[i - 1].out));
    }
  }
  if (mlp.layers.back().out != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the last layer must have one output, has ", mlp.layers.back().out));
  }
  return absl::OkStatus();
}

}  // namespace nio::kernels
