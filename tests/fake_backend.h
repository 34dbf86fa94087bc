// FakeBackend: a Backend without arithmetic, for scheduler tests. Each
// row's "prediction" after a Step is its step count, p never moves, and
// every Step advances a FakeClock by a fixed cost per row, so time shares and
// deadlines are deterministic. It logs the Steps it ran and can be told to
// fail the next Step or gather.
#ifndef NIO_TESTS_FAKE_BACKEND_H_
#define NIO_TESTS_FAKE_BACKEND_H_

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kernels/backend.h"
#include "kernels/row_watch.h"

namespace nio::testing {

// A steady-clock time point that moves only when told to.
class FakeClock {
 public:
  std::chrono::steady_clock::time_point Now() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::nanoseconds(ns_.load()));
  }
  void Advance(std::chrono::nanoseconds d) { ns_ += d.count(); }

 private:
  std::atomic<int64_t> ns_{1'000'000'000};
};

class FakeBackend final : public kernels::Backend {
 public:
  struct StepCall {
    int first_row;
    int rows;
  };

  // Each Step costs per_row * rows on `clock` (not owned).
  FakeBackend(int max_rows, int n_in, std::vector<int> movable,
              FakeClock* clock, std::chrono::nanoseconds per_row)
      : max_rows_(max_rows),
        n_in_(n_in),
        k_(static_cast<int>(movable.size())),
        movable_(std::move(movable)),
        clock_(clock),
        per_row_(per_row),
        p_(static_cast<size_t>(max_rows) * k_),
        step_(max_rows),
        prediction_(max_rows),
        target_(max_rows) {}

  std::string Describe() const override { return "fake"; }
  int MaxRows() const override { return max_rows_; }
  int InputSize() const override { return n_in_; }
  const std::vector<int>& MovableColumns() const override { return movable_; }

  absl::Status LoadRows(int first_row, const kernels::NioRows& rows) override {
    if (first_row < 0 || first_row + rows.count > max_rows_) {
      return absl::OutOfRangeError("LoadRows outside the slots");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fail_next_load_) {
        fail_next_load_ = false;
        return absl::InternalError("fake admit failure");
      }
    }
    for (int r = 0; r < rows.count; ++r) {
      for (int c = 0; c < k_; ++c) {
        p_[(first_row + r) * k_ + c] = rows.x0[r * n_in_ + movable_[c]];
      }
      step_[first_row + r] = 0;
      prediction_[first_row + r] = 0;
      target_[first_row + r] = rows.target ? rows.target[r] : INFINITY;
    }
    return absl::OkStatus();
  }

  absl::Status MoveRows(const std::vector<kernels::RowMove>& moves) override {
    if (absl::Status s = kernels::CheckRowMoves(moves, max_rows_); !s.ok())
      return s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fail_next_move_ && !moves.empty()) {
        fail_next_move_ = false;
        return absl::InternalError("fake move failure");
      }
    }
    for (const kernels::RowMove& m : moves) {
      for (int c = 0; c < k_; ++c) p_[m.to * k_ + c] = p_[m.from * k_ + c];
      step_[m.to] = step_[m.from];
      prediction_[m.to] = prediction_[m.from];
      target_[m.to] = target_[m.from];
    }
    return absl::OkStatus();
  }

  absl::Status Step(int first_row, int rows) override {
    if (first_row < 0 || rows < 0 || first_row + rows > max_rows_) {
      return absl::OutOfRangeError("Step outside the slots");
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      held_cv_.wait(lock, [&] { return !held_; });
      if (broken_) return absl::InternalError("fake device lost");
      if (fail_next_step_) {
        fail_next_step_ = false;
        return absl::InternalError("fake step failure");
      }
      steps_.push_back({first_row, rows});
    }
    for (int r = first_row; r < first_row + rows; ++r)
      prediction_[r] = ++step_[r];
    clock_->Advance(per_row_ * rows);
    return absl::OkStatus();
  }

  // The prediction is the row's step count; its best point is its current
  // one, and it reaches its target when the step count does.
  absl::Status GatherRows(const std::vector<int>& rows,
                          const kernels::RowReadout& out) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (fail_next_gather_) {
        fail_next_gather_ = false;
        return absl::InternalError("fake gather failure");
      }
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const int row = rows[i];
      if (row < 0 || row >= max_rows_)
        return absl::OutOfRangeError("GatherRows row");
      for (int c = 0; c < k_; ++c) {
        if (out.p) out.p[i * k_ + c] = p_[row * k_ + c];
        if (out.best_p) out.best_p[i * k_ + c] = p_[row * k_ + c];
        if (out.df_dp) out.df_dp[i * k_ + c] = 0;
      }
      if (out.prediction) out.prediction[i] = prediction_[row];
      if (out.best_prediction) out.best_prediction[i] = prediction_[row];
      if (out.best_objective) out.best_objective[i] = -prediction_[row];
      if (out.flags) {
        out.flags[i] =
            prediction_[row] >= target_[row] ? kernels::kRowReachedTarget : 0;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Predict(const float*, int rows, float* out) override {
    for (int r = 0; r < rows; ++r) out[r] = 50;
    return absl::OkStatus();
  }

  // While held, Steps wait (the scheduler stops between two chunks).
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
    }
    held_cv_.notify_all();
  }
  void FailNextStep() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_step_ = true;
  }
  void FailNextLoad() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_load_ = true;
  }
  void FailNextGather() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_gather_ = true;
  }
  // The next MoveRows with at least one move fails.
  void FailNextMove() {
    std::lock_guard<std::mutex> lock(mu_);
    fail_next_move_ = true;
  }
  // Every later Step fails and Health says so, as after a lost GPU.
  void Break() {
    std::lock_guard<std::mutex> lock(mu_);
    broken_ = true;
  }
  absl::Status Health() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return broken_ ? absl::InternalError("fake device lost") : absl::OkStatus();
  }
  std::vector<StepCall> Steps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return steps_;
  }
  // As a backend that captures one graph per row range stepped: the
  // distinct (first_row, rows) ranges so far.
  int64_t GraphCaptures() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<std::pair<int, int>> ranges;
    for (const StepCall& s : steps_) ranges.insert({s.first_row, s.rows});
    return static_cast<int64_t>(ranges.size());
  }

 private:
  const int max_rows_;
  const int n_in_;
  const int k_;
  const std::vector<int> movable_;
  FakeClock* clock_;
  const std::chrono::nanoseconds per_row_;
  std::vector<float> p_;
  std::vector<int> step_;
  std::vector<float> prediction_;
  std::vector<float> target_;
  mutable std::mutex mu_;
  std::condition_variable held_cv_;
  bool held_ = false;              // guarded by mu_
  bool fail_next_step_ = false;    // guarded by mu_
  bool fail_next_load_ = false;    // guarded by mu_
  bool fail_next_gather_ = false;  // guarded by mu_
  bool broken_ = false;            // guarded by mu_
  bool fail_next_move_ = false;    // guarded by mu_
  std::vector<StepCall> steps_;    // guarded by mu_
};

}  // namespace nio::testing

#endif  // NIO_TESTS_FAKE_BACKEND_H_
