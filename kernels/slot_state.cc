#include "kernels/slot_state.h"

#include "absl/strings/str_cat.h"
#include "kernels/lbfgs.h"

namespace nio::kernels {

SlotShapes SlotArrayShapes(int h1, int k_cols) {
  SlotShapes shapes;
  shapes[kSlotFixed] = {4, h1};
  for (int a = kSlotP; a <= kSlotBestP; ++a) shapes[a] = {4, k_cols};
  shapes[kSlotLbfgs] = {4, LbfgsStateWidth(k_cols)};
  for (int a = kSlotLr; a <= kSlotWindow; ++a) shapes[a] = {4, 1};
  shapes[kSlotMask] = {1, k_cols};
  shapes[kSlotFlags] = {1, 1};
  shapes[kSlotOptimizer] = {1, 1};
  return shapes;
}

absl::Status CheckSlotArrays(const SlotBases& bases, const SlotBytes& bytes,
                             const SlotShapes& shapes, int slots) {
  for (int a = 0; a < kSlotArrays; ++a) {
    const size_t want =
        static_cast<size_t>(slots) * shapes[a].units * shapes[a].unit_bytes;
    if (bases[a] == nullptr || bytes[a] != want) {
      return absl::InternalError(
          absl::StrCat("slot state array ", a, " holds ", bytes[a],
                       " bytes, its shape needs ", want));
    }
    for (int b = 0; b < a; ++b) {
      if (bases[b] == bases[a]) {
        return absl::InternalError(absl::StrCat(
            "slot state arrays ", b, " and ", a, " are the same buffer"));
      }
    }
  }
  return absl::OkStatus();
}

CopyRowsBody MoveSlotRowsBody(const SlotBases& bases, const SlotShapes& shapes,
                              const int* from, const int* to, int count) {
  CopyRowsBody body{};
  for (int a = 0; a < kSlotArrays; ++a) {
    body.arrays[a] = {bases[a], bases[a], shapes[a].unit_bytes,
                      shapes[a].units};
    body.record_units += shapes[a].units;
  }
  body.num_arrays = kSlotArrays;
  body.from = from;
  body.to = to;
  body.count = count;
  return body;
}

}  // namespace nio::kernels
