// Scheduler: one per loaded model; owns the compute backend and a batching
// thread that runs NIO at step level, in two blocks of slots on the one
// backend:
//
//   interactive block  (interactive_slots rows) unary calls, a person waiting;
//                      stepped whole, one step at a time.
//   batch block        (max_batch rows) streams and catalog jobs; each of its
//                      steps runs as chunks of batch_chunk_rows rows.
//
// At every step or chunk boundary the LaneArbiter picks which block runs
// next: interactive first, with the batch block keeping batch_min_share of
// the time while both have work. So a one-track call waits at most one chunk
// for the backend, then runs its steps at the small block's speed
// instead of paying the whole catalog batch's step time. Queued tracks are
// admitted into free slots at step boundaries (interactive: FIFO; batch: a
// fair share per caller, see fair_queue.h) and finished ones leave (steps
// done, target reached, converged, time budget spent, cancelled, deadline
// passed), their results handed to the submitter's callback at once. A track
// takes one row per start (problem.starts) and is answered once, when all
// of its rows have left; a track over its change budget goes back to the
// head of its queue for its second pass (models/change_budget.h).
//
// The scheduler only moves slots and picks blocks; what a problem, a row and
// a result mean lives in models/ (nio_problem.h, problem_rows.h).
//
// Thread-safe. Callbacks run on the batching thread and must be quick (queue
// a write, notify a waiter); they must not call back into the scheduler.
#ifndef NIO_SERVICE_SCHEDULER_H_
#define NIO_SERVICE_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"
#include "kernels/backend_factory.h"
#include "kernels/slot_batch.h"
#include "models/featurizer.h"
#include "models/model.h"
#include "models/nio_problem.h"
#include "service/fair_queue.h"
#include "service/job.h"
#include "service/lane_arbiter.h"
#include "service/scheduler_stats.h"

namespace nio::service {

struct SchedulerOptions {
  kernels::BackendChoice backend = kernels::BackendChoice::kAuto;
  // Threads and TF32; compute.max_rows is ignored (the scheduler asks for
  // max_batch + interactive_slots rows).
  kernels::BackendOptions compute;
  // Batch block slots: catalog tracks sharing every step.
  int max_batch = 1024;
  // Interactive block slots; 0: no interactive block (interactive jobs run
  // in the batch block, first in line).
  int interactive_slots = 64;
  // The batch block's minimum share of backend time while interactive work
  // is waiting, in [0, 1).
  double batch_min_share = 0.2;
  // Rows per batch chunk, about the longest an interactive step waits
  // (-1: the backend's choice, CreatedBackend::step_chunk_rows; 0: whole
  // steps). Chunks are fixed in rows, not time, so the same rows are cut the
  // same way in every run (BLAS results depend on the GEMM's row count).
  int batch_chunk_rows = -1;
  // How long a burst of interactive work may run before the batch block
  // claims its minimum share (see lane_arbiter.h): a one-track call shorter
  // than this is never interrupted once the batch block has had the backend
  // for a while.
  Clock::duration interactive_burst = std::chrono::milliseconds(40);
  // Tracks waiting for a slot; Submit beyond it is RESOURCE_EXHAUSTED.
  int max_queue = 100000;
  // The clock for deadlines and time shares; empty: the steady clock.
  // Tests pass a fake one.
  std::function<Clock::time_point()> now;
  // Wraps the backend Create made before the scheduler gets it; empty:
  // none. Tests put a fault-injecting backend around the real one.
  std::function<std::unique_ptr<kernels::Backend>(
      std::unique_ptr<kernels::Backend>)>
      wrap_backend;
};

class Scheduler {
 public:
  // Creates the backend (SchedulerOptions::backend) and starts the thread.
  // model: not owned, must outlive the scheduler.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(
      const models::Model& model, const SchedulerOptions& options);
  // The same on a given backend with at least max_batch + interactive_slots
  // rows (tests use a fake one); log_line is what BackendLogLine() says;
  // options.batch_chunk_rows -1 means whole steps here.
  static absl::StatusOr<std::unique_ptr<Scheduler>> CreateWithBackend(
      const models::Model& model, const SchedulerOptions& options,
      std::unique_ptr<kernels::Backend> backend, std::string log_line);
  ~Scheduler();  // Stop()s

  // Queues all jobs or none: RESOURCE_EXHAUSTED when they do not fit in the
  // queue, INVALID_ARGUMENT when a track has more starts than its block has
  // slots, UNAVAILABLE after Stop().
  absl::Status Submit(std::vector<Job> jobs);

  // Predictions for scaled inputs x (rows, n_in), run between two steps;
  // `done` gets them on the batching thread. UNAVAILABLE after Stop().
  void Predict(std::vector<float> x, int rows,
               std::function<void(absl::StatusOr<std::vector<float>>)> done);

  // Stops admitting, lets active and queued tracks finish until `deadline`,
  // then cancels what is left and joins the thread. Idempotent.
  void Stop(Clock::time_point deadline = Clock::time_point::max());

  SchedulerStats Stats() const;
  // OK, or why the backend is broken for good (Backend::Health after a
  // failure): from then on Submit and every queued track get UNAVAILABLE
  // with that reason, and `on_broken` (set before any work arrives, called
  // once from the batching thread) tells the server to report NOT_SERVING.
  absl::Status BackendHealth() const;
  void OnBackendBroken(std::function<void(const absl::Status&)> on_broken);
  const std::string& BackendDescription() const { return backend_description_; }
  const std::string& BackendLogLine() const { return backend_log_line_; }
  const models::Featurizer& featurizer() const { return featurizer_; }
  int MaxBatch() const { return max_batch_; }
  int InteractiveSlots() const { return interactive_slots_; }

 private:
  // One block of slots and where its current step stands.
  struct Block {
    JobClass job_class;
    kernels::SlotBatch slots;
    // Batch block: the rows of the step in progress and how many have run.
    int step_rows = 0;
    int step_done_rows = 0;
    // Backend time of the step in progress so far (all its chunks).
    Clock::duration step_time{};
    bool MidStep() const { return step_done_rows > 0; }
  };

  Scheduler(const models::Model& model,
            std::unique_ptr<kernels::Backend> backend, std::string log_line,
            const SchedulerOptions& options);
  Clock::time_point Now() const { return now_ ? now_() : Clock::now(); }
  void Loop();
  void Admit(Block& block);
  void RunStep(Block& block);
  void RunBatchChunk(Block& block);
  // After a whole step of `block`: stats, progress events, finished tracks.
  void EndStep(Block& block, int rows);
  void RetireFinished(Block& block);
  // Hands retired rows to their tracks (their slots and tickets are free at
  // once); a track whose rows have all left moves to finished_. Answers the
  // interactive block's at once.
  void FinishRetired(Block& block, std::vector<kernels::RetiredSlot>& retired);
  // Marks the tracks that stop as a whole before the next retire: the track
  // as given reached the target, or the time budget is spent.
  void MarkTrackStops(Block& block, Clock::time_point now);
  // A track's second pass (change budget) back at the head of its queue.
  void Requeue(Job job);
  // Predicts and answers up to max_tracks of the class's finished tracks.
  void AnswerFinished(JobClass job_class, size_t max_tracks);
  void EmitProgress(Block& block);
  // Answers every track of the block with INTERNAL and empties it.
  void FailBlock(Block& block, const absl::Status& status);
  // After a failure: when the backend says it is broken for good, records
  // that, answers every queued track UNAVAILABLE and tells on_broken_.
  void CheckBackendHealth();
  // Answers the queued tracks whose call was cancelled or whose deadline
  // passed, so they neither wait for a slot nor count against max_queue.
  void DropDeadQueued(Clock::time_point now);
  // Drain time is over: every queued and active track ends as UNAVAILABLE.
  void ShutDownNow(Block* blocks);
  // Answers the tracks of these row tickets (never admitted, or lost from
  // the block) with INTERNAL saying what failed (cause), once each, and
  // frees them.
  void ForgetTickets(Block& block, const std::vector<int64_t>& tickets,
                     const absl::Status& cause);
  // The track id of a new active track, and its release.
  int NewTrack(Job job);
  void ReleaseTrack(int track);
  // Why a track leaves early, or OK when it may stay.
  absl::Status LeaveReason(const Job& job, Clock::time_point now) const;
  // Both with mu_ held.
  void CountEnded(const absl::Status& status, JobClass job_class);
  void ReleaseBatchRows(const std::string& caller, int rows);
  void PublishStats(const Block* blocks, Clock::time_point now);

  models::Featurizer featurizer_;
  std::unique_ptr<kernels::Backend> backend_;
  std::string backend_description_;
  std::string backend_log_line_;
  const int max_batch_;
  const int interactive_slots_;
  const int max_queue_;
  const int batch_chunk_rows_;  // 0: whole steps
  const std::function<Clock::time_point()> now_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Job> interactive_queue_;  // guarded by mu_
  FairQueue batch_queue_;              // guarded by mu_
  // Rows of batch tracks in the batch block, by caller; guarded by mu_.
  std::unordered_map<std::string, int> batch_active_;
  size_t Queued() const {
    return interactive_queue_.size() + batch_queue_.Size();
  }
  std::deque<std::function<void()>> predict_tasks_;     // guarded by mu_
  bool stopping_ = false;                               // guarded by mu_
  absl::Status broken_;                                 // guarded by mu_
  std::function<void(const absl::Status&)> on_broken_;  // guarded by mu_
  Clock::time_point stop_deadline_ =
      Clock::time_point::max();  // guarded by mu_
  SchedulerStats stats_;         // guarded by mu_

  // Owned by the batching thread.
  LaneArbiter arbiter_;
  // A track with rows in a block.
  struct ActiveTrack {
    Job job;
    std::vector<kernels::RetiredSlot> rows;  // by start, as they leave
    int rows_active = 0;
    Clock::time_point budget_end = Clock::time_point::max();
    // Every row leaves at the next retire: the track as given reached the
    // target, or the time budget is spent (time_budget).
    bool stop = false;
    bool time_budget = false;
  };
  std::vector<ActiveTrack> tracks_;  // by track id
  std::vector<int> free_tracks_;
  // The track and start of each row, by SlotBatch ticket.
  struct RowOwner {
    int track = -1;
    int start = 0;
  };
  std::vector<RowOwner> row_owner_;
  // Tracks out of their block, waiting for their results to be built.
  struct Finished {
    Job job;
    std::vector<kernels::RetiredSlot> rows;  // by start
    bool time_budget = false;
    // Some row left before its steps or a stop rule ended it (cancelled,
    // deadline, shutdown): no result.
    bool cut = false;
  };
  std::deque<Finished> finished_[kJobClasses];
  std::vector<int64_t> free_tickets_;
  Clock::time_point rate_window_start_;  // guarded by mu_
  Clock::time_point last_dead_scan_{};   // batching thread
  std::array<int64_t, kJobClasses> rate_window_track_steps_{};
  std::thread thread_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_SCHEDULER_H_
