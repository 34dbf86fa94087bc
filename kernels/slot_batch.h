// SlotBatch: the step-level continuous batch over a Backend's slots. Active
// tracks occupy slots [0, Active()); new tracks are admitted at the end at
// any step boundary, finished ones leave and the survivors from the end of
// the block move into their holes (row_moves.h), so every Step runs one dense
// block of rows.
//
// Thread-compatible; owns no thread. The in-process optimizer drives it in a
// loop; the server's scheduler drives it from its batching thread.
#ifndef NIO_KERNELS_SLOT_BATCH_H_
#define NIO_KERNELS_SLOT_BATCH_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "kernels/backend.h"

namespace nio::kernels {

// What the batch knows about an occupied slot.
struct SlotInfo {
  int64_t ticket = 0;     // the caller's id for the track
  int steps_wanted = 0;   // leave after this many steps
  int steps_done = 0;
  float prediction = 0;   // f(x(p)) at the start of the last step
};

// A track that left the batch, with its final movable features.
struct RetiredSlot {
  SlotInfo info;
  std::vector<float> p;   // (K) scaled movable features
};

class SlotBatch {
 public:
  // backend: not owned, must outlive the batch.
  explicit SlotBatch(Backend* backend);

  int Active() const { return static_cast<int>(slots_.size()); }
  // The active slots, by row.
  const std::vector<SlotInfo>& Slots() const { return slots_; }
  int Free() const { return backend_->MaxRows() - Active(); }

  // Admits rows.count tracks (rows.count <= Free()); tickets and steps_wanted
  // have rows.count entries.
  absl::Status Admit(const NioRows& rows, const std::vector<int64_t>& tickets,
                     const std::vector<int>& steps_wanted);

  // One NIO step over all active slots.
  absl::Status Step();

  // Retires every slot that has done its steps or for which should_leave
  // (may be empty) says so; appends them to retired.
  absl::Status Retire(const std::function<bool(const SlotInfo&)>& should_leave,
                      std::vector<RetiredSlot>* retired);

 private:
  Backend* backend_;
  std::vector<SlotInfo> slots_;  // slots_[row] describes backend row `row`
  std::vector<float> p_scratch_;
  std::vector<float> prediction_scratch_;
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_SLOT_BATCH_H_
