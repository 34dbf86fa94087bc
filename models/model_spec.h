// The model description (model.json of the artifact format, see README.md):
// the features in model order with their scaler and ranges, the genre list,
// the network shape, default NIO options and presets.
#ifndef NIO_MODELS_MODEL_SPEC_H_
#define NIO_MODELS_MODEL_SPEC_H_

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace nio::models {

inline constexpr int kModelFormatVersion = 1;

// kInteger and kBinary features take whole values (kBinary: 0 or 1); they
// are inputs only: NIO never moves them.
enum class FeatureKind { kNumeric, kBinary, kInteger, kOneHot };

// The values a feature may take at all (the data set's definition), in raw
// units; a missing bound is unbounded. Wider than the realistic range.
struct ValidRange {
  std::optional<double> min;
  std::optional<double> max;
  bool min_exclusive = false;  // min < value rather than min <= value
  bool max_exclusive = false;
};

// One model input column.
struct FeatureSpec {
  std::string name;
  FeatureKind kind = FeatureKind::kNumeric;
  // kOneHot: the categorical value this column stands for.
  std::string category;
  // StandardScaler: scaled = (raw - mean) / scale.
  double mean = 0.0;
  double scale = 1.0;
  // Realistic raw range: the post-hoc clamp in reference mode, the projection
  // in projected mode, the slider range in a UI.
  double range_min = 0.0;
  double range_max = 1.0;
  // What a track may give at all (model.json "valid"; without it: [0, 1]
  // for binary and one-hot features, unbounded otherwise). Values outside it
  // are rejected (feature_validity.h).
  ValidRange valid;
  // Moves in NIO when a request does not say which features move.
  bool mutable_by_default = false;
  // One line for tooltips.
  std::string description;
};

// The single categorical input (the genre), one-hot encoded with the
// reference value (the first, alphabetically) dropped.
struct CategoricalSpec {
  std::string name;
  std::vector<std::string> values;  // all values, reference included
  std::string reference;
};

enum class NioMode { kReference, kProjected };

// What a track's options (and a model's defaults) may ask for: more steps or
// starts would let one track hold a slot for hours; an lr below float's
// smallest normal value rounds to (nearly) 0, a step that never moves.
inline constexpr int kMaxSteps = 100000;
inline constexpr int kMaxStarts = 64;
inline constexpr double kMinLr = std::numeric_limits<float>::min();
inline constexpr double kMaxLr = 10;
inline constexpr double kMaxLambda = 1e6;
// Nor for a larger start pool (start_pool.h).
inline constexpr int kMaxStartPool = 4096;

// How a track's rows optimize (kernels/row_optimizer.h): Adam as PyTorch's,
// or the projected L-BFGS (kernels/lbfgs.h; projected mode only).
enum class Optimizer { kAdam, kLbfgs };

// What a request on an optimizer other than its model's default gets
// (DefaultsFor): each optimizer's own steps, starts and pool.
inline constexpr int kAdamDefaultSteps = 300;
inline constexpr int kLbfgsDefaultSteps = 30;
inline constexpr int kLbfgsDefaultStarts = 8;

struct NioDefaults {
  int steps = 300;
  double lr = 0.05;
  double lambda = 0.1;
  // Projected unless the model asks for the original app's semantics.
  NioMode mode = NioMode::kProjected;
  // Starts per track (nio_problem.h): 1 for the original app's model.
  int starts = 1;
  // The optimizer of projected-mode requests that name none (reference
  // mode is always Adam); steps, starts and start_pool are its defaults.
  Optimizer optimizer = Optimizer::kAdam;
  // Pool points scored to pick starts 1..K-1 (start_pool.h); 0: off.
  int start_pool = 0;
};

// The defaults of a request on `optimizer`: the model's own when it is the
// model's default optimizer; otherwise that optimizer's built-in steps,
// starts and pool (Adam 300 / 1 / 0, L-BFGS 30 / 8 / 0), with the model's
// lr, lambda and mode.
NioDefaults DefaultsFor(const NioDefaults& model, Optimizer optimizer);

// A named starting point for a track (the original app's presets).
struct Preset {
  std::string name;   // machine name, e.g. "chill"
  std::string label;  // human label, e.g. "Chill"
  std::string description;
  std::string genre;
  std::vector<std::pair<std::string, double>> features;  // raw values
};

struct ModelSpec {
  int format_version = kModelFormatVersion;
  std::string name;
  std::string version;
  std::string description;
  std::string output_name = "popularity";
  std::vector<int> layer_sizes;  // inputs, hidden..., 1
  std::string activation = "relu";
  std::vector<FeatureSpec> features;
  CategoricalSpec categorical;
  NioDefaults defaults;
  std::vector<Preset> presets;

  // Index of the feature with this name, or -1.
  int FeatureIndex(const std::string& feature_name) const;
};

const char* FeatureKindName(FeatureKind kind);
const char* NioModeName(NioMode mode);
// "reference" / "projected" -> mode; INVALID_ARGUMENT otherwise.
absl::StatusOr<NioMode> ParseNioMode(const std::string& text);
const char* OptimizerName(Optimizer optimizer);
// "adam" / "lbfgs" -> optimizer; INVALID_ARGUMENT otherwise.
absl::StatusOr<Optimizer> ParseOptimizer(const std::string& text);

// Parses and checks model.json text; errors name `source` and the field
// (e.g. "model.json: features[3].scale: must be positive").
absl::StatusOr<ModelSpec> ParseModelSpec(const std::string& json_text,
                                         const std::string& source);

// The non-one-hot features of the model, in model order: the columns the
// backend carries as movable (integer and binary ones never get a mask bit:
// see CheckMovable in feature_validity.h).
std::vector<int> MovableColumns(const ModelSpec& spec);

}  // namespace nio::models

#endif  // NIO_MODELS_MODEL_SPEC_H_
