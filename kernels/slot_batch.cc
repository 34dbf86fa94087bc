#include "kernels/slot_batch.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace nio::kernels {

SlotBatch::SlotBatch(Backend* backend)
    : SlotBatch(backend, 0, backend->MaxRows()) {}

SlotBatch::SlotBatch(Backend* backend, int first_row, int capacity)
    : backend_(backend), first_row_(first_row), capacity_(capacity) {
  slots_.reserve(capacity_);
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
  if (absl::Status s = backend_->LoadRows(first_row_ + Active(), rows); !s.ok())
    return s;
  for (int r = 0; r < rows.count; ++r) {
    SlotInfo info{tickets[r], steps_wanted[r], 0, 0.0f};
    info.watched = (rows.target && std::isfinite(rows.target[r])) ||
                   (rows.tolerance && rows.tolerance[r] > 0);
    watched_ += info.watched ? 1 : 0;
    slots_.push_back(info);
  }
  return absl::OkStatus();
}

absl::Status SlotBatch::Step() { return StepRows(0, Active()); }

absl::Status SlotBatch::StepRows(int begin, int count) {
  if (begin < 0 || count < 0 || begin + count > Active()) {
    return absl::OutOfRangeError(absl::StrCat("StepRows: rows [", begin, ", ",
                                              begin + count, ") outside the ",
                                              Active(), " active slots"));
  }
  if (count == 0) return absl::OkStatus();
  // A whole-block step may cover free rows too, when the backend wants a
  // bucketed row count (its free rows are reset on admission).
  const int run = begin == 0 && count == Active()
                      ? std::clamp(backend_->StepRowsFor(count, capacity_),
                                   count, capacity_)
                      : count;
  if (absl::Status s = backend_->Step(first_row_ + begin, run); !s.ok())
    return s;
  for (int r = begin; r < begin + count; ++r) ++slots_[r].steps_done;
  if (watched_ == 0) return absl::OkStatus();
  std::vector<int>& watched = watched_scratch_;
  watched.clear();
  for (int r = begin; r < begin + count; ++r) {
    if (slots_[r].watched) watched.push_back(r);
  }
  if (watched.empty()) return absl::OkStatus();
  rows_scratch_.resize(watched.size());
  for (size_t i = 0; i < watched.size(); ++i)
    rows_scratch_[i] = first_row_ + watched[i];
  flags_scratch_.resize(watched.size());
  if (absl::Status s = backend_->GatherRows(
          rows_scratch_, RowReadout{.flags = flags_scratch_.data()});
      !s.ok()) {
    return s;
  }
  for (size_t i = 0; i < watched.size(); ++i)
    slots_[watched[i]].flags = flags_scratch_[i];
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
  rows_scratch_.resize(count);
  for (int i = 0; i < count; ++i) rows_scratch_[i] = first_row_ + leaving[i];
  p_scratch_.resize(static_cast<size_t>(count) * k);
  prediction_scratch_.resize(count);
  best_p_scratch_.resize(static_cast<size_t>(count) * k);
  best_objective_scratch_.resize(count);
  best_prediction_scratch_.resize(count);
  flags_scratch_.resize(count);
  if (absl::Status s = backend_->GatherRows(
          rows_scratch_,
          RowReadout{.p = p_scratch_.data(),
                     .prediction = prediction_scratch_.data(),
                     .best_p = best_p_scratch_.data(),
                     .best_objective = best_objective_scratch_.data(),
                     .best_prediction = best_prediction_scratch_.data(),
                     .flags = flags_scratch_.data()});
      !s.ok()) {
    return s;
  }
  // All or nothing: the leaving rows reach `retired` only once the
  // compaction succeeded; on a failure every slot stays where it is and the
  // caller fails them all (no row both answered and still in a slot).
  std::vector<RetiredSlot> leaving_slots;
  leaving_slots.reserve(count);
  int watched_leaving = 0;
  for (int i = 0; i < count; ++i) {
    RetiredSlot out;
    out.info = slots_[leaving[i]];
    out.info.prediction = prediction_scratch_[i];
    out.info.flags = flags_scratch_[i];
    const size_t at = static_cast<size_t>(i) * k;
    out.p.assign(p_scratch_.begin() + at, p_scratch_.begin() + at + k);
    out.best_p.assign(best_p_scratch_.begin() + at,
                      best_p_scratch_.begin() + at + k);
    out.best_objective = best_objective_scratch_[i];
    out.best_prediction = best_prediction_scratch_[i];
    watched_leaving += out.info.watched ? 1 : 0;
    leaving_slots.push_back(std::move(out));
  }
  const std::vector<RowMove> moves = CompactionMoves(leaving, Active());
  std::vector<RowMove> backend_moves = moves;
  for (RowMove& m : backend_moves) {
    m.from += first_row_;
    m.to += first_row_;
  }
  if (absl::Status s = backend_->MoveRows(backend_moves); !s.ok()) return s;
  for (const RowMove& m : moves) slots_[m.to] = slots_[m.from];
  slots_.resize(slots_.size() - count);
  watched_ -= watched_leaving;
  for (RetiredSlot& r : leaving_slots) retired->push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status SlotBatch::GatherPredictions(const std::vector<int>& rows,
                                          float* out) {
  rows_scratch_.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= Active()) {
      return absl::OutOfRangeError(absl::StrCat("GatherPredictions: row ",
                                                rows[i], " outside the ",
                                                Active(), " active slots"));
    }
    rows_scratch_[i] = first_row_ + rows[i];
  }
  return backend_->GatherRows(rows_scratch_, RowReadout{.prediction = out});
}

std::vector<SlotInfo> SlotBatch::Abandon() {
  std::vector<SlotInfo> gone;
  gone.swap(slots_);
  watched_ = 0;
  slots_.reserve(capacity_);
  return gone;
}

}  // namespace nio::kernels
