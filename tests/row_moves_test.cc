// Compaction moves: every way rows can leave a small block, checked by
// applying the moves to row labels; and the rule that moves never chain.
#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/row_moves.h"

namespace nio::kernels {
namespace {

TEST(CompactionMovesTest, EveryLeavingSetOfSmallBlocksCompacts) {
  for (int active = 0; active <= 9; ++active) {
    for (unsigned bits = 0; bits < (1u << active); ++bits) {
      std::vector<int> leaving;
      for (int r = 0; r < active; ++r) {
        if (bits & (1u << r)) leaving.push_back(r);
      }
      const int new_end = active - static_cast<int>(leaving.size());
      const std::vector<RowMove> moves = CompactionMoves(leaving, active);
      ASSERT_TRUE(CheckRowMoves(moves, active).ok()) << "active " << active << " bits " << bits;

      std::vector<int> label(active);
      std::iota(label.begin(), label.end(), 0);
      for (const RowMove& m : moves) {
        EXPECT_GE(m.from, new_end);
        EXPECT_LT(m.to, new_end);
        label[m.to] = label[m.from];
      }
      // The block [0, new_end) holds exactly the rows that stay; a staying
      // row below new_end is never touched.
      std::set<int> stay, block(label.begin(), label.begin() + new_end);
      for (int r = 0; r < active; ++r) {
        if (!(bits & (1u << r))) stay.insert(r);
      }
      EXPECT_EQ(block, stay) << "active " << active << " bits " << bits;
      for (int r = 0; r < new_end; ++r) {
        if (!(bits & (1u << r))) EXPECT_EQ(label[r], r);
      }
    }
  }
}

TEST(CompactionMovesTest, LeavingAtTheEndMovesNothing) {
  const std::vector<int> leaving = {7, 8, 9};
  EXPECT_TRUE(CompactionMoves(leaving, 10).empty());
  const std::vector<int> middle = {2, 5};
  EXPECT_EQ(CompactionMoves(middle, 10), (std::vector<RowMove>{{8, 2}, {9, 5}}));
}

TEST(CheckRowMovesTest, RejectsChainsRepeatsAndRowsOutsideTheSlots) {
  EXPECT_TRUE(CheckRowMoves(std::vector<RowMove>{}, 4).ok());
  EXPECT_TRUE(CheckRowMoves(std::vector<RowMove>{{3, 0}, {2, 1}}, 4).ok());
  const auto chain = CheckRowMoves(std::vector<RowMove>{{3, 2}, {2, 1}}, 4);
  EXPECT_EQ(chain.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(chain.message().find("row move 1 (2 -> 1)"), std::string::npos) << chain;
  EXPECT_EQ(CheckRowMoves(std::vector<RowMove>{{3, 0}, {2, 0}}, 4).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRowMoves(std::vector<RowMove>{{3, 0}, {3, 1}}, 4).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRowMoves(std::vector<RowMove>{{1, 1}}, 4).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRowMoves(std::vector<RowMove>{{4, 0}}, 4).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(CheckRowMoves(std::vector<RowMove>{{0, -1}}, 4).code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace nio::kernels
