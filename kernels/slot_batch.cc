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

  // One read of the active block, then compaction from the highest row down
  // so a moved row is never one that still has to leave.
  const int active = Active();
  p_scratch_.resize(static_cast<size_t>(active) * k);
  prediction_scratch_.resize(active);
  if (absl::Status s = backend_->ReadRows(0, active, p_scratch_.data(),
                                          prediction_scratch_.data());
      !s.ok()) {
    return s;
  }
  for (int row : leaving) {
    RetiredSlot out;
    out.info = slots_[row];
    out.info.prediction = prediction_scratch_[row];
    out.p.assign(p_scratch_.begin() + static_cast<size_t>(row) * k,
                 p_scratch_.begin() + static_cast<size_t>(row + 1) * k);
    retired->push_back(std::move(out));
  }
  for (auto it = leaving.rbegin(); it != leaving.rend(); ++it) {
    const int last = Active() - 1;
    if (*it != last) {
      if (absl::Status s = backend_->MoveRow(last, *it); !s.ok()) return s;
      slots_[*it] = slots_[last];
    }
    slots_.pop_back();
  }
  return absl::OkStatus();
}

}  // namespace nio::kernels
