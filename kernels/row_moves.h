// Row moves: how a continuous batch closes the holes that leaving tracks
// leave, as one set of (from, to) slot pairs that a backend applies at once.
//
// The moves of one compaction never chain: every source lies at or above the
// new end of the active block and every destination below it, so sources and
// destinations are disjoint and the pairs can run in any order, or all in
// parallel (one kernel launch per state array on the GPU instead of a copy
// per row and array).
#ifndef NIO_KERNELS_ROW_MOVES_H_
#define NIO_KERNELS_ROW_MOVES_H_

#include <vector>

#include "absl/status/status.h"

namespace nio::kernels {

struct RowMove {
  int from = 0;
  int to = 0;
};
// Written out: the CUDA sources compile this header as C++17.
inline bool operator==(const RowMove& a, const RowMove& b) {
  return a.from == b.from && a.to == b.to;
}

// The moves that compact an active block [0, active) after the rows in
// `leaving` (ascending, unique, each < active) leave: the surviving rows at
// or above active - leaving.size() fill the leaving rows below it, both taken
// in ascending order. Rows below the new end that stay are not touched.
std::vector<RowMove> CompactionMoves(const std::vector<int>& leaving,
                                     int active);

// OK when every row lies in [0, max_rows) and no row is named twice (by two
// moves, or as source and destination of one); else OUT_OF_RANGE naming the
// first move outside the slots, or INVALID_ARGUMENT naming the last move on
// the lowest repeated row (the one that reuses it).
absl::Status CheckRowMoves(const std::vector<RowMove>& moves, int max_rows);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_ROW_MOVES_H_
