// A loaded model artifact: the description from model.json and the weights
// from weights.safetensors, checked against each other.
#ifndef NIO_MODELS_MODEL_H_
#define NIO_MODELS_MODEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "kernels/mlp_weights.h"
#include "models/model_spec.h"

namespace nio::models {

inline constexpr char kModelJsonFile[] = "model.json";
inline constexpr char kWeightsFile[] = "weights.safetensors";

struct Model {
  std::string dir;
  ModelSpec spec;
  kernels::MlpWeights mlp;
};

// Loads and validates the artifact in `dir`. Errors name the file and field:
// NOT_FOUND when a file is missing, INVALID_ARGUMENT for any inconsistency
// (bad JSON, missing or extra tensors, wrong shapes, non-finite weights...).
absl::StatusOr<Model> LoadModel(const std::string& dir);

// The same from the two files' contents (model.json text, safetensors
// bytes): what LoadModel checks once it has read them. `dir` is the Model's
// dir and names the files in messages.
absl::StatusOr<Model> ParseModel(const std::string& json_text,
                                 const std::string& weights_bytes,
                                 const std::string& dir);

// The tensor names of layer i: "layers.<i>.weight" (out, in),
// "layers.<i>.bias".
std::string WeightTensorName(int layer);
std::string BiasTensorName(int layer);

// The directory of the model bundled with this build (models/bundled), or the
// NIO_MODEL_DIR environment variable when set.
std::string DefaultModelDir();

}  // namespace nio::models

#endif  // NIO_MODELS_MODEL_H_
