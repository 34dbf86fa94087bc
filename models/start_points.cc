#include "models/start_points.h"

#include <algorithm>
#include <cstring>

namespace nio::models {
namespace {

// splitmix64: small, fast and fully specified, so the points are the same
// on every platform and standard library (std::uniform_real_distribution is
// not).
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform double in [0, 1) from the top 53 bits.
double Uniform01(uint64_t& state) {
  return static_cast<double>(SplitMix64(state) >> 11) * 0x1.0p-53;
}

}  // namespace

uint64_t StartSeed(const std::vector<float>& x0, int start) {
  // FNV-1a over the bits of the scaled input, then the start index mixed in.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (float v : x0) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int b = 0; b < 4; ++b) {
      h ^= (bits >> (8 * b)) & 0xffu;
      h *= 0x100000001b3ULL;
    }
  }
  uint64_t state = h ^ (static_cast<uint64_t>(start) * 0xd6e8feb86659fd93ULL);
  return SplitMix64(state);
}

std::vector<float> StartPoints(const Featurizer& featurizer,
                               const NioProblem& problem) {
  return StartPointRange(featurizer, problem, 0, problem.starts,
                         problem.starts - 1);
}

std::vector<float> StartPointRange(const Featurizer& featurizer,
                                   const NioProblem& problem, int first,
                                   int count, int strata) {
  const std::vector<int>& movable = featurizer.MovableColumns();
  const size_t k = movable.size();
  // Per feature, which of the `strata` equal slices of its start box each
  // of starts 1..strata falls in: a shuffle seeded by the track and the
  // feature (seeds below 0 are no start's).
  std::vector<std::vector<int>> slice(k);
  for (size_t c = 0; c < k && strata > 0; ++c) {
    slice[c].resize(strata);
    for (int j = 0; j < strata; ++j) slice[c][j] = j;
    uint64_t state = StartSeed(problem.x0, -1 - static_cast<int>(c));
    for (int j = strata - 1; j > 0; --j) {
      std::swap(slice[c][j], slice[c][SplitMix64(state) % (j + 1)]);
    }
  }
  std::vector<float> points(static_cast<size_t>(count) * k);
  for (int i = 0; i < count; ++i) {
    const int s = first + i;
    uint64_t state = StartSeed(problem.x0, s);
    float* point = points.data() + static_cast<size_t>(i) * k;
    for (size_t c = 0; c < k; ++c) {
      const int idx = movable[c];
      point[c] = problem.x0[idx];
      if (s == 0 || !problem.mask[c]) continue;
      const float lo =
          std::max(problem.lo[c], featurizer.Scale(idx, problem.raw_lo[c]));
      const float hi =
          std::min(problem.hi[c], featurizer.Scale(idx, problem.raw_hi[c]));
      if (!(lo < hi)) continue;  // a pinned feature stays where it is
      double u = Uniform01(state);
      if (s <= strata) u = (slice[c][s - 1] + u) / strata;
      point[c] = std::clamp(static_cast<float>(lo + u * (hi - lo)), lo, hi);
    }
  }
  return points;
}

}  // namespace nio::models
