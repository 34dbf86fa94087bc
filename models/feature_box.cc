#include "models/feature_box.h"

#include <algorithm>

namespace nio::models {

RawBox EffectiveBox(const FeatureSpec& f) {
  RawBox box{std::max(f.range_min, f.mean - kTrustRegion * f.scale),
             std::min(f.range_max, f.mean + kTrustRegion * f.scale)};
  if (box.min > box.max) {
    // Disjoint: the range is above (min is range_min) or below (max is
    // range_max) the trust region; keep its nearest end.
    const double end = box.min == f.range_min ? f.range_min : f.range_max;
    box = {end, end};
  }
  return box;
}

}  // namespace nio::models
