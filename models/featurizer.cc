#include "models/featurizer.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "models/feature_validity.h"

namespace nio::models {

Featurizer::Featurizer(const ModelSpec& spec)
    : spec_(spec), movable_(models::MovableColumns(spec)) {
  for (size_t i = 0; i < spec_.features.size(); ++i) {
    const FeatureSpec& f = spec_.features[i];
    feature_index_[f.name] = static_cast<int>(i);
    if (f.kind == FeatureKind::kOneHot)
      genre_column_[f.category] = static_cast<int>(i);
  }
  genre_column_[spec_.categorical.reference] = -1;
}

int Featurizer::FeatureIndex(const std::string& name) const {
  auto it = feature_index_.find(name);
  return it == feature_index_.end() ? -1 : it->second;
}

int Featurizer::GenreColumn(const std::string& genre) const {
  auto it = genre_column_.find(genre);
  return it == genre_column_.end() ? -2 : it->second;
}

float Featurizer::Scale(int feature, double raw) const {
  const FeatureSpec& f = spec_.features[feature];
  return static_cast<float>((raw - f.mean) / f.scale);
}

double Featurizer::Unscale(int feature, float scaled) const {
  const FeatureSpec& f = spec_.features[feature];
  return static_cast<double>(scaled) * f.scale + f.mean;
}

double Featurizer::UnscaleShortest(int feature, float scaled) const {
  const double raw = Unscale(feature, scaled);
  if (!std::isfinite(raw)) return raw;
  double power = 1;
  for (int decimals = 0; decimals <= 17; ++decimals, power *= 10) {
    const double candidate = std::round(raw * power) / power;
    if (Scale(feature, candidate) == scaled)
      return candidate == 0 ? 0.0 : candidate;
  }
  return raw;
}

absl::StatusOr<std::vector<float>> Featurizer::ToScaled(
    const RawTrack& track) const {
  const std::string who = absl::StrCat("track '", track.id, "'");
  std::vector<double> raw(spec_.features.size());
  std::vector<bool> given(spec_.features.size(), false);
  for (size_t i = 0; i < spec_.features.size(); ++i) {
    // Missing features take the training mean (whole-valued kinds: the
    // nearest valid whole value); one-hots start at 0.
    raw[i] = spec_.features[i].kind == FeatureKind::kOneHot
                 ? 0.0
                 : DefaultRawValue(spec_.features[i]);
  }
  for (const auto& [name, value] : track.features) {
    const int idx = FeatureIndex(name);
    if (idx < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": feature '", name, "': unknown feature name"));
    }
    if (spec_.features[idx].kind == FeatureKind::kOneHot) {
      return absl::InvalidArgumentError(absl::StrCat(
          who, ": feature '", name, "': a one-hot column; give the ",
          spec_.categorical.name, " by name instead"));
    }
    if (given[idx]) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": feature '", name, "': given twice"));
    }
    if (absl::Status s = CheckFeatureValue(spec_.features[idx], value);
        !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": ", s.message()));
    }
    given[idx] = true;
    raw[idx] = value;
  }
  if (track.genre.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        who, ": ", spec_.categorical.name, ": missing (one of the model's ",
        spec_.categorical.values.size(), " values)"));
  }
  const int column = GenreColumn(track.genre);
  if (column == -2) {
    // Values are matched exactly; a value in another case is most likely
    // that one ("Pop" for "pop"), so name it.
    std::string hint;
    for (const std::string& v : spec_.categorical.values) {
      if (absl::EqualsIgnoreCase(v, track.genre))
        hint = absl::StrCat(" (did you mean '", v, "'?)");
    }
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": ", spec_.categorical.name, ": unknown value '",
                     track.genre, "'", hint));
  }
  if (column >= 0) raw[column] = 1.0;
  std::vector<float> x(spec_.features.size());
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = Scale(static_cast<int>(i), raw[i]);
  return x;
}

RawTrack Featurizer::FromScaled(const float* x, std::string id) const {
  RawTrack t;
  t.id = std::move(id);
  t.genre = spec_.categorical.reference;
  double best = 0.5;
  for (size_t i = 0; i < spec_.features.size(); ++i) {
    const FeatureSpec& f = spec_.features[i];
    const double raw = Unscale(static_cast<int>(i), x[i]);
    if (f.kind == FeatureKind::kOneHot) {
      if (raw > best) {
        best = raw;
        t.genre = f.category;
      }
    } else {
      t.features.emplace_back(f.name, raw);
    }
  }
  return t;
}

}  // namespace nio::models
