#include "models/feature_validity.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace nio::models {
namespace {

bool Whole(FeatureKind kind) {
  return kind == FeatureKind::kInteger || kind == FeatureKind::kBinary;
}

bool AboveMin(const ValidRange& v, double x) {
  return !v.min || (v.min_exclusive ? x > *v.min : x >= *v.min);
}

bool BelowMax(const ValidRange& v, double x) {
  return !v.max || (v.max_exclusive ? x < *v.max : x <= *v.max);
}

}  // namespace

std::string DescribeValidRange(const FeatureSpec& f) {
  const ValidRange& v = f.valid;
  if (f.kind == FeatureKind::kBinary && v.min == 0.0 && v.max == 1.0) {
    return "0 or 1";
  }
  std::string range =
      absl::StrCat(v.min && !v.min_exclusive ? "[" : "(",
                   v.min ? absl::StrCat(*v.min) : std::string("-inf"), ", ",
                   v.max ? absl::StrCat(*v.max) : std::string("inf"),
                   v.max && !v.max_exclusive ? "]" : ")");
  return Whole(f.kind) ? absl::StrCat("whole numbers in ", range) : range;
}

absl::Status CheckFeatureValue(const FeatureSpec& f, double value) {
  const std::string what = absl::StrCat("feature '", f.name, "': ");
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, "value must be finite, got ", value,
                     " (valid: ", DescribeValidRange(f), ")"));
  }
  if (!AboveMin(f.valid, value) || !BelowMax(f.valid, value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, value, " is outside the valid range ", DescribeValidRange(f)));
  }
  if (Whole(f.kind) && value != std::floor(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, value, " is not a whole number (", FeatureKindName(f.kind),
        " feature; valid: ", DescribeValidRange(f), ")"));
  }
  // The model's input is the scaled value as a float: a valid range open
  // on one side (duration_ms > 0) still holds values that would be inf.
  const double scaled = (value - f.mean) / f.scale;
  if (!(std::abs(scaled) <= std::numeric_limits<float>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, value, " is too far from the training data (mean ", f.mean,
        ", scale ", f.scale, ") to be a model input: its scaled value ", scaled,
        " is beyond a float's range"));
  }
  return absl::OkStatus();
}

double DefaultRawValue(const FeatureSpec& f) {
  if (!Whole(f.kind)) return f.mean;
  // The nearest whole value to the mean that the valid range holds (the
  // spec checks at load that the range holds one).
  double v = std::nearbyint(f.mean);
  const ValidRange& r = f.valid;
  if (!AboveMin(r, v))
    v = r.min_exclusive ? std::floor(*r.min) + 1 : std::ceil(*r.min);
  if (!BelowMax(r, v))
    v = r.max_exclusive ? std::ceil(*r.max) - 1 : std::floor(*r.max);
  return v;
}

absl::Status CheckMovable(const FeatureSpec& f) {
  if (f.kind == FeatureKind::kNumeric) return absl::OkStatus();
  if (f.kind == FeatureKind::kOneHot) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", f.name, "' is a one-hot column and cannot move"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", f.name, "' is a", f.kind == FeatureKind::kInteger ? "n " : " ",
      FeatureKindName(f.kind), " feature (", DescribeValidRange(f),
      ") and cannot move: NIO moves numeric features only"));
}

}  // namespace nio::models
