// What the fuzz targets share: the bundled model (the featurizer every
// request path uses), loaded once per process, and checks of what a parser's
// OK answer promises. A failed check aborts, which libFuzzer records as a
// crash with its input, like a sanitizer's report.
#ifndef NIO_TESTS_FUZZ_FUZZ_UTIL_H_
#define NIO_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/featurizer.h"
#include "models/model.h"
#include "models/nio_problem.h"

// Aborts with the condition and a message when `cond` is false.
#define NIO_FUZZ_CHECK(cond, what)                                             \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "%s:%d: NIO_FUZZ_CHECK(%s) failed: %s\n", __FILE__, \
                   __LINE__, #cond, std::string(what).c_str());                \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

namespace nio::fuzz {

inline std::string AsString(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// The bundled model (models::DefaultModelDir()); aborts when it does not
// load, since no input can be judged then.
inline const models::Model& BundledModel() {
  static const models::Model* model = [] {
    auto loaded = models::LoadModel(models::DefaultModelDir());
    NIO_FUZZ_CHECK(loaded.ok(), loaded.status().ToString());
    return new models::Model(std::move(*loaded));
  }();
  return *model;
}

inline const models::Featurizer& BundledFeaturizer() {
  static const models::Featurizer* featurizer =
      new models::Featurizer(BundledModel().spec);
  return *featurizer;
}

inline bool AllFinite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

// What an OK ToScaled promises: one finite value per model input.
inline void CheckScaled(const models::Featurizer& featurizer,
                        const std::vector<float>& x) {
  NIO_FUZZ_CHECK(static_cast<int>(x.size()) == featurizer.InputSize(),
                 "scaled input of the wrong size");
  NIO_FUZZ_CHECK(AllFinite(x), "a valid track has a non-finite scaled input");
}

// What an OK BuildNioProblem promises the backend (nio_problem.h): sizes that
// agree, finite numbers, a non-empty per-step box, options in their limits,
// and start points inside the box (or pinned at the original).
inline void CheckProblem(const models::Featurizer& featurizer,
                         const models::NioProblem& p) {
  CheckScaled(featurizer, p.x0);
  const std::vector<int>& movable = featurizer.MovableColumns();
  const size_t k = movable.size();
  NIO_FUZZ_CHECK(p.mask.size() == k && p.lo.size() == k && p.hi.size() == k &&
                     p.raw_lo.size() == k && p.raw_hi.size() == k,
                 "per-column vectors of the wrong size");
  for (size_t c = 0; c < k; ++c) {
    NIO_FUZZ_CHECK(
        std::isfinite(p.lo[c]) && std::isfinite(p.hi[c]) && p.lo[c] <= p.hi[c],
        "empty or non-finite per-step box at column " + std::to_string(c));
    NIO_FUZZ_CHECK(!(p.raw_lo[c] > p.raw_hi[c]),
                   "empty raw box at column " + std::to_string(c));
  }
  NIO_FUZZ_CHECK(p.steps >= 1 && p.steps <= models::kMaxSteps, "steps");
  NIO_FUZZ_CHECK(p.starts >= 1 && p.starts <= models::kMaxStarts, "starts");
  NIO_FUZZ_CHECK(std::isfinite(p.lr) && p.lr > 0, "lr");
  NIO_FUZZ_CHECK(std::isfinite(p.lambda) && p.lambda >= 0, "lambda");
  NIO_FUZZ_CHECK(!p.target || std::isfinite(*p.target), "target");
  NIO_FUZZ_CHECK(p.start_pool >= 0 && p.start_pool <= models::kMaxStartPool,
                 "start_pool");
  NIO_FUZZ_CHECK(p.start_points.size() == static_cast<size_t>(p.starts) * k,
                 "start points of the wrong size");
  NIO_FUZZ_CHECK(AllFinite(p.start_points), "non-finite start point");
  for (int s = 1; s < p.starts; ++s) {
    for (size_t c = 0; c < k; ++c) {
      const float v = p.start_points[s * k + c];
      NIO_FUZZ_CHECK(v == p.x0[movable[c]] || (v >= p.lo[c] && v <= p.hi[c]),
                     "start " + std::to_string(s) +
                         " outside the box at column " + std::to_string(c));
    }
  }
}

}  // namespace nio::fuzz

#endif  // NIO_TESTS_FUZZ_FUZZ_UTIL_H_
