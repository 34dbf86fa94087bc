// Where a track's starts begin. Start 0 is the track as given; start s > 0 is
// a pseudo-random point of the track's start box (a Latin hypercube over the
// starts, see StartPointRange), drawn from a generator seeded by the track
// itself (its scaled input: features and genre) and s alone. So a track gets
// the same starts in every run, in every batch and under any id (`nio batch`
// sends its rows under their line numbers, `nio optimize` under their ids: the
// same answer), and two different tracks get different ones.
//
// The start box is where a start may begin without breaking a constraint:
// the per-step box [lo, hi] intersected with the image of the raw box
// [raw_lo, raw_hi] (in projected mode they are the same; in reference mode
// the per-step box is +-3 and the raw box the realistic range and bounds).
#ifndef NIO_MODELS_START_POINTS_H_
#define NIO_MODELS_START_POINTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "models/featurizer.h"
#include "models/nio_problem.h"

namespace nio::models {

// The seed of start `start` of the track with scaled input x0.
uint64_t StartSeed(const std::vector<float>& x0, int start);

// (problem.starts, K) scaled start points; reads x0, mask, lo, hi, raw_lo,
// raw_hi and starts. Columns the mask does not move keep x0's value.
std::vector<float> StartPoints(const Featurizer& featurizer,
                               const NioProblem& problem);

// (count, K) points of starts [first, first + count) (start 0 is the
// track). Starts 1..strata form a Latin hypercube: for each moving feature
// they fall in distinct slices of its start box, one each of `strata` equal
// slices, so a few starts already spread over the box. StartPoints uses
// strata = starts - 1; the start pool, its size.
std::vector<float> StartPointRange(const Featurizer& featurizer,
                                   const NioProblem& problem, int first,
                                   int count, int strata);

}  // namespace nio::models

#endif  // NIO_MODELS_START_POINTS_H_
