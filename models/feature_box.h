// The effective box of a movable feature: where NIO may take it in projected
// mode. Its realistic range intersected with the trust region, the scaled
// values |(raw - mean) / scale| <= kTrustRegion, in raw units:
//
//   [max(range_min, mean - 3 * scale), min(range_max, mean + 3 * scale)]
//
// The trust region is the original app's clamp: outside it the model has
// seen (almost) no data, so its gradient means little. GetModel and `nio
// info` report this box, and BuildNioProblem enforces it, through this one
// function.
#ifndef NIO_MODELS_FEATURE_BOX_H_
#define NIO_MODELS_FEATURE_BOX_H_

#include "kernels/mlp_math.h"
#include "models/model_spec.h"

namespace nio::models {

// |scaled value| <= kTrustRegion: the +-3 of the original app's clamp.
inline constexpr double kTrustRegion = kernels::kScaledClampLimit;

struct RawBox {
  double min = 0;
  double max = 0;
};

// The effective box in raw units. A realistic range that lies wholly outside
// the trust region collapses onto its end nearest the region.
RawBox EffectiveBox(const FeatureSpec& feature);

}  // namespace nio::models

#endif  // NIO_MODELS_FEATURE_BOX_H_
