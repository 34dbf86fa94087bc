// SlotBatch: the step-level continuous batch over a block of a Backend's
// slots, rows [first_row, first_row + capacity). Active tracks occupy the
// block's first Active() rows; new tracks are admitted at the end at any
// step boundary, finished ones leave and the survivors from the end of the
// block move into their holes (row_moves.h), so every step runs one dense
// range of rows. Several batches may share one backend on disjoint blocks
// (the scheduler's interactive and batch blocks).
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
  int64_t ticket = 0;    // the caller's id for the track
  int steps_wanted = 0;  // leave after this many steps
  int steps_done = 0;
  float prediction = 0;  // f(x(p)) at the start of the last step
  // The row has a stop rule (a target or a convergence stop): its stop
  // flags are read after every step it runs.
  bool watched = false;
  uint8_t flags = 0;  // row_watch.h's stop flags after the last step
};

// A row that left the batch, with its final movable features and the best
// point it was evaluated at (row_watch.h).
struct RetiredSlot {
  SlotInfo info;
  std::vector<float> p;       // (K) scaled movable features
  std::vector<float> best_p;  // (K)
  float best_objective = 0;   // +inf when it never ran a step
  float best_prediction = 0;
};

class SlotBatch {
 public:
  // backend: not owned, must outlive the batch; the block must lie within
  // its rows. The default block is all of them.
  explicit SlotBatch(Backend* backend);
  SlotBatch(Backend* backend, int first_row, int capacity);

  int Active() const { return static_cast<int>(slots_.size()); }
  // The active slots, by row of the block.
  const std::vector<SlotInfo>& Slots() const { return slots_; }
  int Free() const { return capacity_ - Active(); }

  // Admits rows.count tracks (rows.count <= Free()); tickets and steps_wanted
  // have rows.count entries.
  absl::Status Admit(const NioRows& rows, const std::vector<int64_t>& tickets,
                     const std::vector<int>& steps_wanted);

  // One NIO step over all active slots (on a backend that buckets its steps,
  // Backend::StepRowsFor, some free rows of the block too).
  absl::Status Step();
  // One NIO step over active rows [begin, begin + count) of the block only
  // (a step cut into chunks; rows are independent). Then reads the stop
  // flags of the watched rows among them (one small read, only when there
  // are any).
  absl::Status StepRows(int begin, int count);

  // Retires every slot that has done its steps or for which should_leave
  // (may be empty) says so; appends them to retired. All or nothing: on an
  // error nothing is appended and every slot is still in the batch.
  absl::Status Retire(const std::function<bool(const SlotInfo&)>& should_leave,
                      std::vector<RetiredSlot>* retired);

  // The predictions recorded by the last step of the listed rows of the
  // block, in list order: out (rows.size()).
  absl::Status GatherPredictions(const std::vector<int>& rows, float* out);

  // Forgets every slot without reading the backend (after a backend failure
  // the rows' state cannot be trusted; the next Admit overwrites it) and
  // returns what was there.
  std::vector<SlotInfo> Abandon();

 private:
  Backend* backend_;
  int first_row_;
  int capacity_;
  std::vector<SlotInfo>
      slots_;  // slots_[row] describes backend row first_row_ + row
  std::vector<int> rows_scratch_;
  std::vector<float> p_scratch_;
  std::vector<float> prediction_scratch_;
  std::vector<float> best_p_scratch_;
  std::vector<float> best_objective_scratch_;
  std::vector<float> best_prediction_scratch_;
  std::vector<uint8_t> flags_scratch_;
  std::vector<int> watched_scratch_;  // StepRows' watched rows
  int watched_ = 0;                   // active rows with SlotInfo::watched
};

}  // namespace nio::kernels

#endif  // NIO_KERNELS_SLOT_BATCH_H_
