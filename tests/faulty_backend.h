// FaultyBackend: a real backend behind a switch that makes its calls fail,
// for the fault paths of the scheduler and the server (a failed step, admit
// or readout; a fault that stays, as after a lost GPU).
#ifndef NIO_TESTS_FAULTY_BACKEND_H_
#define NIO_TESTS_FAULTY_BACKEND_H_

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "kernels/backend.h"

namespace nio::testing {

class FaultyBackend final : public kernels::Backend {
 public:
  // Shared with the test, which flips them while the server runs.
  struct Switches {
    // From the next Step on, every call that computes fails and Health says
    // so: a fault that stays.
    std::atomic<bool> broken{false};
    std::atomic<int> steps{0};  // Steps run so far
  };

  FaultyBackend(std::unique_ptr<kernels::Backend> inner,
                std::shared_ptr<Switches> switches)
      : inner_(std::move(inner)), switches_(std::move(switches)) {}

  std::string Describe() const override {
    return "faulty " + inner_->Describe();
  }
  int MaxRows() const override { return inner_->MaxRows(); }
  int InputSize() const override { return inner_->InputSize(); }
  const std::vector<int>& MovableColumns() const override {
    return inner_->MovableColumns();
  }
  absl::Status LoadRows(int first_row, const kernels::NioRows& rows) override {
    if (switches_->broken) return Lost();
    return inner_->LoadRows(first_row, rows);
  }
  absl::Status MoveRows(const std::vector<kernels::RowMove>& moves) override {
    if (switches_->broken) return Lost();
    return inner_->MoveRows(moves);
  }
  absl::Status Step(int first_row, int rows) override {
    if (switches_->broken) return Lost();
    ++switches_->steps;
    return inner_->Step(first_row, rows);
  }
  absl::Status GatherRows(const std::vector<int>& rows,
                          const kernels::RowReadout& out) override {
    if (switches_->broken) return Lost();
    return inner_->GatherRows(rows, out);
  }
  absl::Status Predict(const float* x, int rows, float* out) override {
    if (switches_->broken) return Lost();
    return inner_->Predict(x, rows, out);
  }
  int StepRowsFor(int rows, int limit) const override {
    return inner_->StepRowsFor(rows, limit);
  }
  absl::Status Health() const override {
    return switches_->broken ? Lost() : absl::OkStatus();
  }

 private:
  static absl::Status Lost() {
    return absl::InternalError("injected fault: device lost");
  }
  std::unique_ptr<kernels::Backend> inner_;
  std::shared_ptr<Switches> switches_;
};

}  // namespace nio::testing

#endif  // NIO_TESTS_FAULTY_BACKEND_H_
