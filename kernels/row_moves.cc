#include "kernels/row_moves.h"

#include <cstdint>

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
  // 1 = source, 2 = destination.
  std::vector<uint8_t> role(max_rows > 0 ? max_rows : 0, 0);
  for (size_t i = 0; i < moves.size(); ++i) {
    const RowMove& m = moves[i];
    if (m.from < 0 || m.from >= max_rows || m.to < 0 || m.to >= max_rows) {
      return absl::OutOfRangeError(absl::StrCat("row move ", i, " (", m.from, " -> ", m.to,
                                                ") outside the ", max_rows, " slots"));
    }
    if (role[m.from] != 0 || role[m.to] != 0 || m.from == m.to) {
      return absl::InvalidArgumentError(
          absl::StrCat("row move ", i, " (", m.from, " -> ", m.to,
                       ") reuses a row of another move: sources and destinations must be "
                       "distinct rows"));
    }
    role[m.from] = 1;
    role[m.to] = 2;
  }
  return absl::OkStatus();
}

}  // namespace nio::kernels
