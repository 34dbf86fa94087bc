// Raw track <-> scaled model input. A track is named raw features plus a
// genre name; missing numeric features take the training mean (integer and
// binary ones the nearest valid whole value), the genre is
// one-hot encoded as the training did (reference value = all zeros), and
// every column is standardized: scaled = (raw - mean) / scale, in double.
#ifndef NIO_MODELS_FEATURIZER_H_
#define NIO_MODELS_FEATURIZER_H_

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "models/model_spec.h"

namespace nio::models {

struct RawTrack {
  std::string id;
  std::vector<std::pair<std::string, double>> features;  // raw values
  std::string genre;
};

class Featurizer {
 public:
  // spec must outlive the featurizer (it is a validated ModelSpec).
  explicit Featurizer(const ModelSpec& spec);

  const ModelSpec& Spec() const { return spec_; }
  int InputSize() const { return static_cast<int>(spec_.features.size()); }
  // models::MovableColumns(Spec()), computed once.
  const std::vector<int>& MovableColumns() const { return movable_; }

  // The scaled model input of a track (InputSize() floats). Missing
  // features take DefaultRawValue (feature_validity.h). INVALID_ARGUMENT,
  // naming the track and field, for an unknown feature or genre, a one-hot
  // column given directly, a repeated feature, or a value CheckFeatureValue
  // rejects (outside the valid range, not whole for integer and binary
  // features, NaN/infinite), with the value and the range.
  absl::StatusOr<std::vector<float>> ToScaled(const RawTrack& track) const;

  // Raw values of every non-one-hot feature and the genre decoded from the
  // one-hot columns.
  RawTrack FromScaled(const float* x, std::string id) const;

  float Scale(int feature, double raw) const;
  double Unscale(int feature, float scaled) const;
  // The raw value with the fewest decimals that Scale()s to `scaled`: what
  // the float can tell apart, no more. A track's 0 or 0.7 comes back as 0
  // and 0.7, not as Unscale's 9.19e-10 and 0.699999996 (float rounding of
  // the scaled value, not data).
  double UnscaleShortest(int feature, float scaled) const;

  // Index of a feature name, or -1.
  int FeatureIndex(const std::string& name) const;
  // Index of the one-hot column of a genre; -1 for the reference genre;
  // -2 for an unknown genre.
  int GenreColumn(const std::string& genre) const;

 private:
  const ModelSpec& spec_;
  std::unordered_map<std::string, int> feature_index_;
  std::unordered_map<std::string, int> genre_column_;
  std::vector<int> movable_;
};

}  // namespace nio::models

#endif  // NIO_MODELS_FEATURIZER_H_
