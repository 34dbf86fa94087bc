// A job: one track's NIO problem on its way through the scheduler, with the
// call it belongs to, its priority class, the caller it is fair-shared under,
// and where its outcome goes.
#ifndef NIO_SERVICE_JOB_H_
#define NIO_SERVICE_JOB_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "models/nio_problem.h"

namespace nio::service {

using Clock = std::chrono::steady_clock;

// Interactive work (unary calls, a person waiting) runs in its own small
// block ahead of the batch block (streams, catalog jobs); see scheduler.h.
enum class JobClass { kInteractive = 0, kBatch = 1 };
inline constexpr int kJobClasses = 2;
const char* JobClassName(JobClass job_class);

// Shared by a call and its tracks: cancelling it retires them within a step.
struct CallControl {
  std::atomic<bool> cancelled{false};
  Clock::time_point deadline = Clock::time_point::max();
};

// How a track ended: OK, CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE (server
// stopped) or INTERNAL (backend failure).
using models::TrackOutcome;

// What every job of one call (or stream message) has in common.
struct JobTraits {
  JobClass job_class = JobClass::kInteractive;
  // Batch jobs share the batch block fairly by caller: each caller with work
  // waiting gets an equal number of slots.
  std::string caller;
  std::shared_ptr<CallControl> control;  // may be null: never cancelled
  int progress_every = 0;                // 0: no progress callbacks
};

// One track to optimize.
struct Job {
  models::NioProblem problem;
  JobTraits traits;
  // When the scheduler took it: the time budget counts from here.
  Clock::time_point submitted{};
  // Called once, on the batching thread.
  std::function<void(TrackOutcome)> on_done;
  // Called every traits.progress_every steps with (step, prediction).
  std::function<void(int, double)> on_progress;
  // Slots it takes: one row per start.
  int Rows() const { return problem.starts; }
};

// The job of one problem; on_progress may be empty.
Job MakeJob(models::NioProblem problem, const JobTraits& traits,
            std::function<void(TrackOutcome)> on_done,
            std::function<void(int, double)> on_progress = nullptr);

}  // namespace nio::service

#endif  // NIO_SERVICE_JOB_H_
