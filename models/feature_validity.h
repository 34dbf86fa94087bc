// What values a track may give a feature, and which features NIO may move.
// One place for the rule, used by the featurizer (every request path), the
// CSV reader of the batch job and the problem builder.
//
//   valid range   the data set's definition of the column (model.json
//                 "valid"), e.g. [0, 1] for the unit features, tempo in
//                 (0, 300]; a missing bound is unbounded;
//   kind          integer and binary features take whole values only;
//   movable       only numeric features move: NIO is a continuous method,
//                 and a key of 7.2 or a mode of 0.7 means nothing.
#ifndef NIO_MODELS_FEATURE_VALIDITY_H_
#define NIO_MODELS_FEATURE_VALIDITY_H_

#include <string>

#include "absl/status/status.h"
#include "models/model_spec.h"

namespace nio::models {

// The valid range in words, e.g. "[0, 1]", "(0, 300]", "(0, inf)",
// "whole numbers in [-1, 11]", "0 or 1".
std::string DescribeValidRange(const FeatureSpec& feature);

// OK when `value` is finite, inside the valid range, for integer and binary
// features whole, and near enough the training data that its scaled value
// (value - mean) / scale, the model's input, is a finite float. Otherwise
// INVALID_ARGUMENT "feature 'NAME': VALUE is outside the valid range RANGE"
// (or "is not a whole number ...", "must be finite ...", "is too far from
// the training data ..."); callers prefix the track.
absl::Status CheckFeatureValue(const FeatureSpec& feature, double value);

// The value a track that does not give the feature takes: the training mean
// for numeric features; for integer and binary ones the valid whole value
// nearest the mean (explicit with mean 0.085 -> 0), since a fraction is no
// value such a feature can have.
double DefaultRawValue(const FeatureSpec& feature);

// OK for numeric features. INVALID_ARGUMENT naming the feature, its kind and
// its values for integer, binary and one-hot features ("'mode' is a binary
// feature (0 or 1) and cannot move: NIO moves numeric features only").
absl::Status CheckMovable(const FeatureSpec& feature);

}  // namespace nio::models

#endif  // NIO_MODELS_FEATURE_VALIDITY_H_
