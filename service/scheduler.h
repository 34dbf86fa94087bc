// Scheduler: one per loaded model; owns the compute backend and a batching
// thread that runs NIO at step level. Up to max_batch tracks are active; at
// every step boundary queued tracks are admitted into free slots and finished
// ones leave (steps done, cancelled, deadline passed), their results handed to
// the submitter's callback at once. Many callers share every GEMM, and a
// one-track request never waits for a long stream to finish.
//
// Thread-safe. Callbacks run on the batching thread and must be quick (queue
// a write, notify a waiter); they must not call back into the scheduler.
#ifndef NIO_SERVICE_SCHEDULER_H_
#define NIO_SERVICE_SCHEDULER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/backend_factory.h"
#include "kernels/slot_batch.h"
#include "models/featurizer.h"
#include "models/model.h"
#include "models/nio_problem.h"

namespace nio::service {

struct SchedulerOptions {
  kernels::BackendChoice backend = kernels::BackendChoice::kAuto;
  // Active track slots sharing every step.
  int max_batch = 1024;
  // Tracks waiting for a slot; Submit beyond it is RESOURCE_EXHAUSTED.
  int max_queue = 100000;
  // CPU threads (0 = all cores).
  int threads = 0;
  // Slots only interactive tracks may take (-1: max_batch / 16, at least 1
  // when max_batch > 1), so a one-track call starts at the next step even
  // when catalog streams fill the batch.
  int interactive_reserve = -1;
  // CUDA only: TF32 tensor-core GEMMs (faster, ~1e-3 relative error);
  // off by default so CUDA results match the CPU's.
  bool allow_tf32 = false;
};

// Interactive tracks (unary calls, the CLI) are admitted before bulk ones
// (streams, batch jobs), and bulk tracks leave the reserved slots free.
enum class JobPriority { kInteractive, kBulk };

using Clock = std::chrono::steady_clock;

// Shared by a call and its tracks: cancelling it retires them within a step.
struct CallControl {
  std::atomic<bool> cancelled{false};
  Clock::time_point deadline = Clock::time_point::max();
};

// How a track ended: OK, CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE (server
// stopped) or INTERNAL (backend failure).
using models::TrackOutcome;

// One track to optimize.
struct Job {
  models::NioProblem problem;
  std::shared_ptr<CallControl> control;  // may be shared by many jobs
  int progress_every = 0;                // 0: no progress callbacks
  JobPriority priority = JobPriority::kInteractive;
  // Called once, on the batching thread.
  std::function<void(TrackOutcome)> on_done;
  // Called every progress_every steps with (step, prediction).
  std::function<void(int, double)> on_progress;
};

// Counters for tests, metrics and logs.
struct SchedulerStats {
  int64_t submitted = 0;
  int64_t completed = 0;
  int64_t cancelled = 0;          // retired because the caller cancelled
  int64_t deadline_exceeded = 0;  // retired because the deadline passed
  int64_t rejected_queue_full = 0;
  int64_t steps = 0;              // batched steps run
  int64_t track_steps = 0;        // sum over steps of active tracks
  int active = 0;                 // tracks in slots now
  int queued = 0;                 // tracks waiting now
};

class Scheduler {
 public:
  // model: not owned, must outlive the scheduler.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(
      const models::Model& model, const SchedulerOptions& options);
  ~Scheduler();  // Stop()s

  // Queues all jobs or none: RESOURCE_EXHAUSTED when they do not fit in the
  // queue, UNAVAILABLE after Stop().
  absl::Status Submit(std::vector<Job> jobs);

  // Predictions for scaled inputs x (rows, n_in), run between two steps;
  // `done` gets them on the batching thread. UNAVAILABLE after Stop().
  void Predict(std::vector<float> x, int rows,
               std::function<void(absl::StatusOr<std::vector<float>>)> done);

  // Stops admitting, lets active and queued tracks finish until `deadline`,
  // then cancels what is left and joins the thread. Idempotent.
  void Stop(Clock::time_point deadline = Clock::time_point::max());

  SchedulerStats Stats() const;
  const std::string& BackendDescription() const { return backend_description_; }
  const std::string& BackendLogLine() const { return backend_log_line_; }
  const models::Featurizer& featurizer() const { return featurizer_; }
  int MaxBatch() const { return max_batch_; }

 private:
  Scheduler(const models::Model& model, std::unique_ptr<kernels::Backend> backend,
            std::string log_line, const SchedulerOptions& options);
  void Loop();
  void AdmitQueued(kernels::SlotBatch& batch);
  void FinishRetired(std::vector<kernels::RetiredSlot>& retired);
  void EmitProgress(kernels::SlotBatch& batch);
  void FailActive(kernels::SlotBatch& batch, const absl::Status& status);
  // Why a track leaves early, or OK when it may stay.
  absl::Status LeaveReason(const Job& job, Clock::time_point now) const;

  const models::Model& model_;
  models::Featurizer featurizer_;
  std::unique_ptr<kernels::Backend> backend_;
  std::string backend_description_;
  std::string backend_log_line_;
  const int max_batch_;
  const int max_queue_;
  const int interactive_reserve_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  // Waiting tracks by priority (kInteractive, kBulk); guarded by mu_.
  std::deque<Job> queues_[2];
  size_t Queued() const { return queues_[0].size() + queues_[1].size(); }
  std::deque<std::function<void()>> predict_tasks_;        // guarded by mu_
  bool stopping_ = false;                                  // guarded by mu_
  Clock::time_point stop_deadline_ = Clock::time_point::max();  // guarded by mu_
  SchedulerStats stats_;                                   // guarded by mu_

  // Owned by the batching thread: active jobs by SlotBatch ticket.
  std::vector<Job> jobs_by_ticket_;
  std::vector<int64_t> free_tickets_;
  std::vector<int> progress_rows_;
  std::vector<float> progress_prediction_;
  std::thread thread_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_SCHEDULER_H_
