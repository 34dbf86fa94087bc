#include "kernels/slot_batch.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace nio::kernels {

SlotBatch::SlotBatch(Backend* backend) : backend_(backend) {
  slots_.reserve(backend_->MaxRows());
}

absl::Status SlotBatch::Admit(const NioRows& rows,
                              const std::vector<int64_t>& tickets,
                              const std::vector<int>& steps_wanted) {
  if (rows.count > Free()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "admitting ", rows.count, " tracks into ", Free(), " free slots"));
  }
  if (static_cast<int>(tickets.size()) != rows.count ||
      static_cast<int>(steps_wanted.size()) != rows.count) {
    return absl::InvalidArgumentError("tickets/steps size != rows.count");
  }
  if (absl::Status s = backend_->LoadRows(Active(), rows); !s.ok()) return s;
  for (int r = 0; r < rows.count; ++r) {
    slots_.push_back(SlotInfo{tickets[r], steps_wanted[r], 0, 0.0f});
  }
  return absl::OkStatus();
}

absl::Status SlotBatch::Step() {
  if (slots_.empty()) return absl::OkStatus();
  if (absl::Status s = backend_->Step(Active()); !s.ok()) return s;
  for (SlotInfo& slot : slots_) ++slot.steps_done;
  return absl::OkStatus();
}

absl::Status SlotBatch::Retire(
    const std::function<bool(const SlotInfo&)>& should_leave,
    std::vector<RetiredSlot>* retired) {
  const int k = static_cast<int>(backend_->MovableColumns().size());
  std::vector<int> leaving;
  for (int row = 0; row < Active(); ++row) {
    const SlotInfo& s = slots_[row];
    if (s.steps_done >= s.steps_wanted || (should_leave && should_leave(s))) {
      leaving.push_back(row);
    }
  }
  if (leaving.empty()) return absl::OkStatus();

  // Read only the leaving rows, then close their holes with the survivors
  // from the end of the block in one set of moves.
  const int count = static_cast<int>(leaving.size());
  p_scratch_.resize(static_cast<size_t>(count) * k);
  prediction_scratch_.resize(count);
  if (absl::Status s = backend_->GatherRows(leaving, p_scratch_.data(),
                                            prediction_scratch_.data());
      !s.ok()) {
    return s;
  }
  for (int i = 0; i < count; ++i) {
    RetiredSlot out;
    out.info = slots_[leaving[i]];
    out.info.prediction = prediction_scratch_[i];
    out.p.assign(p_scratch_.begin() + static_cast<size_t>(i) * k,
                 p_scratch_.begin() + static_cast<size_t>(i + 1) * k);
    retired->push_back(std::move(out));
  }
  const std::vector<RowMove> moves = CompactionMoves(leaving, Active());
  if (absl::Status s = backend_->MoveRows(moves); !s.ok()) return s;
  for (const RowMove& m : moves) slots_[m.to] = slots_[m.from];
  slots_.resize(slots_.size() - count);
  return absl::OkStatus();
}

}  // namespace nio::kernels
