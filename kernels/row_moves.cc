#include "kernels/row_moves.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace nio::kernels {

std::vector<RowMove> CompactionMoves(const std::vector<int>& leaving, int active) {
  const int new_end = active - static_cast<int>(leaving.size());
  std::vector<RowMove> moves;
  size_t next_leaving = 0;  // walks `leaving` alongside the survivors above new_end
  size_t hole = 0;          // the next leaving row below new_end to fill
  while (next_leaving < leaving.size() && leaving[next_leaving] < new_end) ++next_leaving;
  for (int row = new_end; row < active; ++row) {
    if (next_leaving < leaving.size() && leaving[next_leaving] == row) {
      ++next_leaving;
      continue;
    }
    moves.push_back(RowMove{row, leaving[hole++]});
  }
  return moves;
}

absl::Status CheckRowMoves(const std::vector<RowMove>& moves, int max_rows) {
  if (moves.empty()) return absl::OkStatus();  // most retires move nothing
  // Every row named by a move, sorted: a repeat means two moves share a row.
  // Sorting 2m rows costs less than a byte per slot when m is small, as it is.
  std::vector<int> rows;
  rows.reserve(2 * moves.size());
  for (size_t i = 0; i < moves.size(); ++i) {
    const RowMove& m = moves[i];
    if (m.from < 0 || m.from >= max_rows || m.to < 0 || m.to >= max_rows) {
      return absl::OutOfRangeError(absl::StrCat("row move ", i, " (", m.from, " -> ", m.to,
                                                ") outside the ", max_rows, " slots"));
    }
    rows.push_back(m.from);
    rows.push_back(m.to);
  }
  std::sort(rows.begin(), rows.end());
  const auto repeat = std::adjacent_find(rows.begin(), rows.end());
  if (repeat != rows.end()) {
    // Name the last move on that row: the one that reuses it.
    for (size_t i = moves.size(); i-- > 0;) {
      if (moves[i].from == *repeat || moves[i].to == *repeat) {
        return absl::InvalidArgumentError(absl::StrCat(
            "row move ", i, " (", moves[i].from, " -> ", moves[i].to, ") reuses row ", *repeat,
            ": sources and destinations must be distinct rows"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace nio::kernels
