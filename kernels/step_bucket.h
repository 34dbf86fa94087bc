// Step buckets: the number of rows a captured step runs. A CUDA graph is
// captured for one row range, and continuous batching changes the active
// row count almost every step; rounding the count up to a few buckets lets
// a handful of graphs serve every count. The extra rows are free slots of
// the same block: rows are independent and LoadRows resets a slot, so
// stepping them changes no active row's result (tests/slot_batch_test.cc).
#ifndef NIO_KERNELS_STEP_BUCKET_H_
#define NIO_KERNELS_STEP_BUCKET_H_

#include <algorithm>

namespace nio::kernels {

// rows rounded up to a multiple of a quarter of the largest power of two
// not above it (four buckets per octave: at most 25% extra rows, about
// 4 log2(limit) buckets in all), then capped at limit. rows <= 4 stay.
inline int StepBucket(int rows, int limit) {
  if (rows <= 4) return std::min(rows, limit);
  int high = 1;
  while (high * 2 <= rows) high *= 2;
  const int quarter = high / 4;
  const int rounded = (rows + quarter - 1) / quarter * quarter;
  return std::min(rounded, limit);
}

}  // namespace nio::kernels

#endif  // NIO_KERNELS_STEP_BUCKET_H_
