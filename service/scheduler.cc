#include "service/scheduler.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "kernels/status_macros.h"
#include "models/problem_rows.h"
#include "service/log.h"

namespace nio::service {
namespace {

// Track-step rates are measured over windows of about this long.
constexpr auto kRateWindow = std::chrono::seconds(1);

int FormedBatchBucket(int rows) {
  for (size_t b = 0; b < kFormedBatchBounds.size(); ++b) {
    if (rows <= kFormedBatchBounds[b]) return static_cast<int>(b);
  }
  return static_cast<int>(kFormedBatchBounds.size());
}

// INVALID_ARGUMENT naming the first option out of its range.
absl::Status CheckOptions(const SchedulerOptions& options) {
  if (options.max_batch <= 0 || options.max_queue < 0 ||
      options.interactive_slots < 0) {
    return absl::InvalidArgumentError(
        "max_batch must be > 0, max_queue and interactive_slots >= 0");
  }
  if (!(options.batch_min_share >= 0 && options.batch_min_share < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch_min_share must be in [0, 1), got ", options.batch_min_share));
  }
  if (options.interactive_burst < Clock::duration::zero()) {
    return absl::InvalidArgumentError("interactive_burst must be >= 0");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(
    const models::Model& model, const SchedulerOptions& options) {
  NIO_RETURN_IF_ERROR(CheckOptions(options));
  kernels::BackendOptions compute = options.compute;
  compute.max_rows = options.max_batch + options.interactive_slots;
  NIO_ASSIGN_OR_RETURN(
      kernels::CreatedBackend created,
      kernels::CreateBackend(options.backend, model.mlp,
                             models::MovableColumns(model.spec), compute));
  SchedulerOptions chosen = options;
  if (chosen.batch_chunk_rows < 0)
    chosen.batch_chunk_rows = created.step_chunk_rows;
  return CreateWithBackend(model, chosen, std::move(created.backend),
                           created.log_line);
}

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::CreateWithBackend(
    const models::Model& model, const SchedulerOptions& options,
    std::unique_ptr<kernels::Backend> backend, std::string log_line) {
  NIO_RETURN_IF_ERROR(CheckOptions(options));
  if (backend->MaxRows() < options.max_batch + options.interactive_slots) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the backend has ", backend->MaxRows(), " rows, the blocks need ",
        options.max_batch + options.interactive_slots));
  }
  return std::unique_ptr<Scheduler>(
      new Scheduler(model, std::move(backend), std::move(log_line), options));
}

Scheduler::Scheduler(const models::Model& model,
                     std::unique_ptr<kernels::Backend> backend,
                     std::string log_line, const SchedulerOptions& options)
    : featurizer_(model.spec),
      backend_(std::move(backend)),
      backend_description_(backend_->Describe()),
      backend_log_line_(std::move(log_line)),
      max_batch_(options.max_batch),
      interactive_slots_(options.interactive_slots),
      max_queue_(options.max_queue),
      batch_chunk_rows_(std::max(0, options.batch_chunk_rows)),
      now_(options.now),
      arbiter_(options.batch_min_share, options.interactive_burst) {
  const int slots = max_batch_ + interactive_slots_;
  jobs_by_ticket_.resize(slots);
  for (int t = slots - 1; t >= 0; --t) free_tickets_.push_back(t);
  rate_window_start_ = Now();
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() { Stop(Now()); }

absl::Status Scheduler::Submit(std::vector<Job> jobs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    if (Queued() + jobs.size() > static_cast<size_t>(max_queue_)) {
      stats_.rejected_queue_full += static_cast<int64_t>(jobs.size());
      return absl::ResourceExhaustedError(absl::StrCat(
          "queue full: ", Queued(), " tracks waiting, ", jobs.size(),
          " more would pass --max_queue=", max_queue_, "; retry later"));
    }
    stats_.submitted += static_cast<int64_t>(jobs.size());
    for (Job& j : jobs) {
      stats_.by_class[static_cast<int>(j.traits.job_class)].submitted++;
      if (j.traits.job_class == JobClass::kInteractive) {
        interactive_queue_.push_back(std::move(j));
      } else {
        batch_queue_.Push(std::move(j));
      }
    }
  }
  work_cv_.notify_one();
  return absl::OkStatus();
}

void Scheduler::Predict(
    std::vector<float> x, int rows,
    std::function<void(absl::StatusOr<std::vector<float>>)> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      predict_tasks_.push_back([this, x = std::move(x), rows, done] {
        std::vector<float> out(rows);
        absl::Status s = backend_->Predict(x.data(), rows, out.data());
        if (s.ok()) {
          done(std::move(out));
        } else {
          done(s);
        }
      });
      work_cv_.notify_one();
      return;
    }
  }
  done(absl::UnavailableError("the server is shutting down"));
}

void Scheduler::Stop(Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ || deadline < stop_deadline_) stop_deadline_ = deadline;
    stopping_ = true;
  }
  work_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

SchedulerStats Scheduler::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SchedulerStats s = stats_;
  // The batching thread updates rates only while it runs: a rate older than
  // two windows means the scheduler has been idle since.
  if (Now() - rate_window_start_ > 2 * kRateWindow) {
    for (ClassStats& c : s.by_class) c.track_steps_per_s = 0;
  }
  return s;
}

absl::Status Scheduler::LeaveReason(const Job& job,
                                    Clock::time_point now) const {
  const CallControl* control = job.traits.control.get();
  if (control == nullptr) return absl::OkStatus();
  // gRPC reports an expired deadline as a cancellation, a moment before or
  // after our steady-clock copy of the deadline; such a cancellation counts
  // as the deadline.
  constexpr auto kDeadlineSlack = std::chrono::milliseconds(50);
  const Clock::time_point deadline = control->deadline;
  const bool near_deadline =
      deadline != Clock::time_point::max() && now + kDeadlineSlack > deadline;
  const bool cancelled = control->cancelled.load(std::memory_order_relaxed);
  if (now > deadline || (near_deadline && cancelled)) {
    return absl::DeadlineExceededError("the call's deadline passed");
  }
  if (cancelled) return absl::CancelledError("the call was cancelled");
  return absl::OkStatus();
}

void Scheduler::CountEnded(const absl::Status& status, JobClass job_class) {
  // Caller holds mu_.
  switch (status.code()) {
    case absl::StatusCode::kOk:
      stats_.completed++;
      stats_.by_class[static_cast<int>(job_class)].completed++;
      break;
    case absl::StatusCode::kCancelled:
      stats_.cancelled++;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      stats_.deadline_exceeded++;
      break;
    case absl::StatusCode::kInternal:
      stats_.failed++;
      break;
    default:
      break;
  }
}

void Scheduler::ReleaseBatchSlot(const std::string& caller) {
  // Caller holds mu_.
  auto it = batch_active_.find(caller);
  if (it != batch_active_.end() && --it->second <= 0) batch_active_.erase(it);
}

void Scheduler::Admit(Block& block) {
  const Clock::time_point now = Now();
  std::vector<Job> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int free = block.slots.Free();
    if (block.job_class == JobClass::kInteractive) {
      while (!interactive_queue_.empty() &&
             static_cast<int>(taken.size()) < free) {
        taken.push_back(std::move(interactive_queue_.front()));
        interactive_queue_.pop_front();
      }
    } else {
      // With no interactive block, interactive jobs are first in line here.
      while (interactive_slots_ == 0 && !interactive_queue_.empty() &&
             static_cast<int>(taken.size()) < free) {
        ++batch_active_[interactive_queue_.front().traits.caller];
        taken.push_back(std::move(interactive_queue_.front()));
        interactive_queue_.pop_front();
      }
      std::vector<Job> fair = batch_queue_.Take(
          free - static_cast<int>(taken.size()), &batch_active_);
      for (Job& j : fair) taken.push_back(std::move(j));
    }
  }
  if (taken.empty()) return;
  models::PackedRows rows;
  std::vector<int64_t> tickets;
  std::vector<int> steps;
  std::vector<std::pair<Job, absl::Status>> dropped;
  for (Job& job : taken) {
    if (absl::Status why = LeaveReason(job, now); !why.ok()) {
      dropped.emplace_back(std::move(job), why);
      continue;
    }
    rows.Add(job.problem);
    steps.push_back(job.problem.steps);
    const int64_t ticket = free_tickets_.back();
    free_tickets_.pop_back();
    tickets.push_back(ticket);
    jobs_by_ticket_[ticket] = std::move(job);
  }
  if (!dropped.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [job, why] : dropped) {
        CountEnded(why, job.traits.job_class);
        if (block.job_class == JobClass::kBatch)
          ReleaseBatchSlot(job.traits.caller);
      }
    }
    for (auto& [job, why] : dropped) job.on_done(TrackOutcome{why, {}});
  }
  if (tickets.empty()) return;
  if (absl::Status s = block.slots.Admit(rows.View(), tickets, steps);
      !s.ok()) {
    NIO_LOG(ERROR) << "admitting " << tickets.size() << " tracks failed: " << s;
    for (int64_t t : tickets) ForgetTicket(block, t);
  }
}

// Frees a ticket whose job never made it into (or was lost from) the block,
// answering it with INTERNAL.
void Scheduler::ForgetTicket(Block& block, int64_t ticket) {
  Job job = std::move(jobs_by_ticket_[ticket]);
  free_tickets_.push_back(ticket);
  const absl::Status why =
      absl::InternalError("the compute backend failed; see the server log");
  {
    std::lock_guard<std::mutex> lock(mu_);
    CountEnded(why, job.traits.job_class);
    if (block.job_class == JobClass::kBatch)
      ReleaseBatchSlot(job.traits.caller);
  }
  job.on_done(TrackOutcome{why, {}});
}

void Scheduler::FailBlock(Block& block, const absl::Status& status) {
  NIO_LOG(ERROR) << "backend failure, failing the " << block.slots.Active()
                 << " tracks of the " << JobClassName(block.job_class)
                 << " block: " << status;
  for (const kernels::SlotInfo& slot : block.slots.Abandon())
    ForgetTicket(block, slot.ticket);
  block.step_rows = block.step_done_rows = 0;
}

void Scheduler::EmitProgress(Block& block) {
  const auto& slots = block.slots.Slots();
  std::vector<int> rows;
  for (int row = 0; row < static_cast<int>(slots.size()); ++row) {
    const Job& job = jobs_by_ticket_[slots[row].ticket];
    if (job.on_progress &&
        slots[row].steps_done % job.traits.progress_every == 0) {
      rows.push_back(row);
    }
  }
  if (rows.empty()) return;
  // Only the rows due an event are read (on a GPU, a gather and one small
  // copy).
  std::vector<float> prediction(rows.size());
  if (absl::Status s = block.slots.GatherPredictions(rows, prediction.data());
      !s.ok()) {
    FailBlock(block, s);
    return;
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const kernels::SlotInfo& slot = slots[rows[i]];
    jobs_by_ticket_[slot.ticket].on_progress(slot.steps_done, prediction[i]);
  }
}

void Scheduler::FinishRetired(Block& block,
                              std::vector<kernels::RetiredSlot>& retired) {
  std::deque<Finished>& finished = finished_[static_cast<int>(block.job_class)];
  for (kernels::RetiredSlot& r : retired) {
    finished.push_back(
        {std::move(jobs_by_ticket_[r.info.ticket]), std::move(r)});
    free_tickets_.push_back(r.info.ticket);
  }
  if (block.job_class == JobClass::kBatch) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = finished.size() - retired.size(); i < finished.size();
         ++i) {
      ReleaseBatchSlot(finished[i].job.traits.caller);
    }
  }
  // The batch block's results are answered in chunks between steps (see
  // Loop): a wave of a thousand finished tracks is a forward pass over
  // three thousand rows, which an interactive step should not wait for.
  if (block.job_class == JobClass::kInteractive) {
    AnswerFinished(block.job_class, finished.size());
  }
}

void Scheduler::AnswerFinished(JobClass job_class, size_t max_tracks) {
  std::deque<Finished>& queue = finished_[static_cast<int>(job_class)];
  std::vector<Finished> batch;
  while (!queue.empty() && batch.size() < max_tracks) {
    batch.push_back(std::move(queue.front()));
    queue.pop_front();
  }
  auto ran_all = [](const Finished& f) {
    return f.slot.info.steps_done >= f.slot.info.steps_wanted;
  };
  models::ResultBatch results(featurizer_);
  for (const Finished& f : batch) {
    if (ran_all(f))
      results.Add(f.job.problem, f.slot.p, f.slot.info.steps_done);
  }
  auto built = results.Build([this](const float* x, int rows, float* out) {
    return backend_->Predict(x, rows, out);
  });
  if (!built.ok()) {
    NIO_LOG(ERROR) << "predicting finished tracks failed: " << built.status();
  }
  std::vector<TrackOutcome> outcomes(batch.size());
  size_t next_result = 0;
  const Clock::time_point now = Now();
  for (size_t i = 0; i < batch.size(); ++i) {
    TrackOutcome& outcome = outcomes[i];
    if (ran_all(batch[i])) {
      if (built.ok()) {
        outcome.result = std::move((*built)[next_result]);
      } else {
        outcome.status = absl::InternalError(built.status().ToString());
      }
      ++next_result;
    } else {
      outcome.status = LeaveReason(batch[i].job, now);
      if (outcome.status.ok()) {
        outcome.status = absl::UnavailableError(
            "the server shut down before the track finished");
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < batch.size(); ++i) {
      CountEnded(outcomes[i].status, batch[i].job.traits.job_class);
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].job.on_done(std::move(outcomes[i]));
  }
}

void Scheduler::RetireFinished(Block& block) {
  std::vector<kernels::RetiredSlot> retired;
  const Clock::time_point now = Now();
  absl::Status s = block.slots.Retire(
      [&](const kernels::SlotInfo& slot) {
        return !LeaveReason(jobs_by_ticket_[slot.ticket], now).ok();
      },
      &retired);
  if (!s.ok()) {
    FailBlock(block, s);
    return;
  }
  if (!retired.empty()) FinishRetired(block, retired);
}

void Scheduler::EndStep(Block& block, int rows) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ClassStats& c = stats_.by_class[static_cast<int>(block.job_class)];
    c.steps++;
    c.track_steps += rows;
    c.formed_batch[FormedBatchBucket(rows)]++;
    stats_.steps++;
    stats_.track_steps += rows;
  }
  EmitProgress(block);
  RetireFinished(block);
}

void Scheduler::RunStep(Block& block) {
  const int rows = block.slots.Active();
  if (absl::Status s = block.slots.Step(); !s.ok()) {
    FailBlock(block, s);
    return;
  }
  EndStep(block, rows);
}

void Scheduler::RunBatchChunk(Block& block) {
  if (!block.MidStep()) block.step_rows = block.slots.Active();
  const int left = block.step_rows - block.step_done_rows;
  // Fixed cuts; a remainder shorter than a chunk joins the chunk before it.
  const int rows = batch_chunk_rows_ == 0 || left < 2 * batch_chunk_rows_
                       ? left
                       : batch_chunk_rows_;
  if (absl::Status s = block.slots.StepRows(block.step_done_rows, rows);
      !s.ok()) {
    FailBlock(block, s);
    return;
  }
  block.step_done_rows += rows;
  if (block.step_done_rows < block.step_rows) return;
  const int step_rows = block.step_rows;
  block.step_rows = block.step_done_rows = 0;
  EndStep(block, step_rows);
}

void Scheduler::ShutDownNow(Block* blocks) {
  std::vector<Job> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Job& j : interactive_queue_) left.push_back(std::move(j));
    interactive_queue_.clear();
    for (Job& j : batch_queue_.TakeAll()) left.push_back(std::move(j));
  }
  for (Job& job : left) {
    job.on_done(
        TrackOutcome{absl::UnavailableError("the server shut down"), {}});
  }
  for (int b = 0; b < kJobClasses; ++b) {
    Block& block = blocks[b];
    std::vector<kernels::RetiredSlot> retired;
    absl::Status s = block.slots.Retire(
        [](const kernels::SlotInfo&) { return true; }, &retired);
    if (!s.ok()) {
      FailBlock(block, s);
      continue;
    }
    block.step_rows = block.step_done_rows = 0;
    if (!retired.empty()) FinishRetired(block, retired);
  }
  for (int c = 0; c < kJobClasses; ++c) {
    AnswerFinished(static_cast<JobClass>(c), finished_[c].size());
  }
}

void Scheduler::PublishStats(const Block* blocks, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.active = 0;
  for (int b = 0; b < kJobClasses; ++b) {
    const Block& block = blocks[b];
    stats_.by_class[static_cast<int>(block.job_class)].active =
        block.slots.Active();
    stats_.active += block.slots.Active();
  }
  stats_.by_class[static_cast<int>(JobClass::kInteractive)].queued =
      static_cast<int>(interactive_queue_.size());
  stats_.by_class[static_cast<int>(JobClass::kBatch)].queued =
      static_cast<int>(batch_queue_.Size());
  stats_.queued = static_cast<int>(Queued());
  const auto elapsed = now - rate_window_start_;
  if (elapsed >= kRateWindow) {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    for (int c = 0; c < kJobClasses; ++c) {
      ClassStats& cs = stats_.by_class[c];
      cs.track_steps_per_s =
          (cs.track_steps - rate_window_track_steps_[c]) / seconds;
      rate_window_track_steps_[c] = cs.track_steps;
    }
    rate_window_start_ = now;
  }
}

void Scheduler::Loop() {
  // Batch block rows [0, max_batch), interactive block after it.
  Block blocks[kJobClasses] = {
      Block{JobClass::kInteractive,
            kernels::SlotBatch(backend_.get(), max_batch_, interactive_slots_)},
      Block{JobClass::kBatch,
            kernels::SlotBatch(backend_.get(), 0, max_batch_)}};
  Block& interactive = blocks[static_cast<int>(JobClass::kInteractive)];
  Block& batch = blocks[static_cast<int>(JobClass::kBatch)];
  const std::deque<Finished>& batch_finished =
      finished_[static_cast<int>(JobClass::kBatch)];
  // Finished batch tracks answered per turn: about a chunk's worth of rows
  // (with whole steps, a fixed number of tracks).
  constexpr size_t kAnswerPerTurnWholeSteps = 256;
  const size_t answer_per_turn =
      batch_chunk_rows_ > 0
          ? std::max<size_t>(1, batch_chunk_rows_ / models::kResultInputRows)
          : kAnswerPerTurnWholeSteps;
  while (true) {
    std::deque<std::function<void()>> predicts;
    bool past_stop_deadline = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] {
        return stopping_ || Queued() > 0 || !predict_tasks_.empty() ||
               interactive.slots.Active() > 0 || batch.slots.Active() > 0 ||
               !batch_finished.empty();
      });
      predicts.swap(predict_tasks_);
      past_stop_deadline = stopping_ && Now() >= stop_deadline_;
      if (stopping_ && Queued() == 0 && predicts.empty() &&
          interactive.slots.Active() == 0 && batch.slots.Active() == 0 &&
          batch_finished.empty()) {
        break;
      }
    }
    for (auto& task : predicts) task();
    if (past_stop_deadline) {
      ShutDownNow(blocks);
      PublishStats(blocks, Now());
      continue;
    }
    if (interactive_slots_ > 0) Admit(interactive);
    if (!batch.MidStep()) Admit(batch);
    const bool interactive_work = interactive.slots.Active() > 0;
    const bool batch_work = batch.slots.Active() > 0 || !batch_finished.empty();
    if (interactive_work || batch_work) {
      const JobClass next = arbiter_.Next(interactive_work, batch_work);
      const Clock::time_point start = Now();
      if (next == JobClass::kInteractive) {
        RunStep(interactive);
      } else if (!batch_finished.empty()) {
        AnswerFinished(JobClass::kBatch, answer_per_turn);
      } else {
        RunBatchChunk(batch);
      }
      const Clock::duration took = Now() - start;
      arbiter_.Ran(next, took, batch_work);
      std::lock_guard<std::mutex> lock(mu_);
      stats_.by_class[static_cast<int>(next)].busy_s +=
          std::chrono::duration<double>(took).count();
    }
    PublishStats(blocks, Now());
  }
  PublishStats(blocks, Now());
}

}  // namespace nio::service
