// The state arrays of a slot (backend.h lists what each holds) as one table
// both backends use: each array's row shape, in one order, so a move of
// slots copies every array with one CopyRowsBody and no backend can leave
// one out; each backend checks at start-up that its buffers have the shapes
// the table says.
#ifndef NIO_KERNELS_SLOT_STATE_H_
#define NIO_KERNELS_SLOT_STATE_H_

#include <array>
#include <cstddef>

#include "absl/status/status.h"
#include "kernels/elementwise.h"

namespace nio::kernels {

enum SlotArray : int {
  kSlotFixed,  // (H1) floats
  kSlotP,      // (K) floats from here to kSlotBestP
  kSlotP0,
  kSlotM,
  kSlotV,
  kSlotLo,
  kSlotHi,
  kSlotDfDp,
  kSlotBestP,
  kSlotLbfgs,  // (LbfgsStateWidth(K)) floats
  kSlotLr,     // one float from here to kSlotTolerance
  kSlotLambda,
  kSlotPrediction,
  kSlotBestObjective,
  kSlotBestPrediction,
  kSlotTarget,
  kSlotTolerance,
  kSlotK,  // one int from here to kSlotWindow
  kSlotStep,
  kSlotStall,
  kSlotWindow,
  kSlotMask,       // (K) bytes
  kSlotFlags,      // one byte
  kSlotOptimizer,  // one byte
  kSlotArrays
};
static_assert(kSlotArrays <= kMaxCopyArrays);

// Each array with the member that holds it, named alike in both backends
// (CpuBackend's vectors, CudaBackend's device buffers): X(array, member).
// Both build their table from this one list.
// clang-format off
#define NIO_SLOT_ARRAYS(X) \
  X(kSlotFixed, fixed_) \
  X(kSlotP, p_) \
  X(kSlotP0, p0_) \
  X(kSlotM, m_) \
  X(kSlotV, v_) \
  X(kSlotLo, lo_) \
  X(kSlotHi, hi_) \
  X(kSlotDfDp, df_dp_) \
  X(kSlotBestP, best_p_) \
  X(kSlotLbfgs, lbfgs_) \
  X(kSlotLr, lr_) \
  X(kSlotLambda, lambda_) \
  X(kSlotPrediction, prediction_) \
  X(kSlotBestObjective, best_objective_) \
  X(kSlotBestPrediction, best_prediction_) \
  X(kSlotTarget, target_) \
  X(kSlotTolerance, tolerance_) \
  X(kSlotK, k_) \
  X(kSlotStep, step_) \
  X(kSlotStall, stall_) \
  X(kSlotWindow, window_) \
  X(kSlotMask, mask_) \
  X(kSlotFlags, flags_) \
  X(kSlotOptimizer, optimizer_)
// clang-format on

struct SlotArrayShape {
  int unit_bytes = 0;  // 4 (float, int) or 1 (byte)
  int units = 0;       // per slot
};
using SlotShapes = std::array<SlotArrayShape, kSlotArrays>;
// Where each array starts, and how many bytes its buffer holds.
using SlotBases = std::array<unsigned char*, kSlotArrays>;
using SlotBytes = std::array<size_t, kSlotArrays>;

// The shapes for a first hidden layer of h1 and k_cols movable columns.
SlotShapes SlotArrayShapes(int h1, int k_cols);

// OK when every array is there, distinct, and holds exactly `slots` rows of
// its shape; INTERNAL naming the first that does not.
absl::Status CheckSlotArrays(const SlotBases& bases, const SlotBytes& bytes,
                             const SlotShapes& shapes, int slots);

// Row from[i] -> row to[i] of every array, i < count, in one launch (the
// moves must not chain, row_moves.h).
CopyRowsBody MoveSlotRowsBody(const SlotBases& bases, const SlotShapes& shapes,
                              const int* from, const int* to, int count);

}  // namespace nio::kernels

#endif  // NIO_KERNELS_SLOT_STATE_H_
