#include "service/scheduler.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "kernels/row_watch.h"
#include "kernels/status_macros.h"
#include "models/change_budget.h"
#include "models/problem_rows.h"
#include "models/start_pool.h"
#include "service/log.h"

namespace nio::service {
namespace {

// Track-step rates are measured over windows of about this long.
constexpr auto kRateWindow = std::chrono::seconds(1);
// Queued tracks are checked for a cancelled call or a passed deadline at
// most this often (a scan of the queues).
constexpr auto kDeadScanInterval = std::chrono::milliseconds(10);

int FormedBatchBucket(int rows) {
  for (size_t b = 0; b < kFormedBatchBounds.size(); ++b) {
    if (rows <= kFormedBatchBounds[b]) return static_cast<int>(b);
  }
  return static_cast<int>(kFormedBatchBounds.size());
}

int StepSecondsBucket(double seconds) {
  for (size_t b = 0; b < kStepSecondsBounds.size(); ++b) {
    if (seconds <= kStepSecondsBounds[b]) return static_cast<int>(b);
  }
  return static_cast<int>(kStepSecondsBounds.size());
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
  if (options.wrap_backend)
    created.backend = options.wrap_backend(std::move(created.backend));
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
  row_owner_.resize(slots);
  for (int t = slots - 1; t >= 0; --t) free_tickets_.push_back(t);
  // A track has at least one row: never more tracks than slots.
  tracks_.resize(slots);
  for (int t = slots - 1; t >= 0; --t) free_tracks_.push_back(t);
  rate_window_start_ = Now();
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() { Stop(Now()); }

absl::Status Scheduler::BackendHealth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return broken_;
}

void Scheduler::OnBackendBroken(
    std::function<void(const absl::Status&)> on_broken) {
  std::lock_guard<std::mutex> lock(mu_);
  on_broken_ = std::move(on_broken);
}

void Scheduler::CheckBackendHealth() {
  const absl::Status health = backend_->Health();
  if (health.ok()) return;
  std::vector<Job> left;
  std::function<void(const absl::Status&)> tell;
  absl::Status why;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!broken_.ok()) return;
    broken_ = absl::UnavailableError(
        absl::StrCat("the compute backend is broken (", health.message(),
                     "); this server needs a restart"));
    why = broken_;
    for (Job& j : interactive_queue_) left.push_back(std::move(j));
    interactive_queue_.clear();
    for (Job& j : batch_queue_.TakeAll()) left.push_back(std::move(j));
    stats_.backend_broken += static_cast<int64_t>(left.size());
    tell = on_broken_;
  }
  NIO_LOG(ERROR) << why;
  // The server learns first, so health says NOT_SERVING before any caller
  // hears UNAVAILABLE.
  if (tell) tell(why);
  for (Job& job : left) job.on_done(TrackOutcome{why, {}});
}

absl::Status Scheduler::Submit(std::vector<Job> jobs) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    if (!broken_.ok()) return broken_;
    if (Queued() + jobs.size() > static_cast<size_t>(max_queue_)) {
      stats_.rejected_queue_full += static_cast<int64_t>(jobs.size());
      return absl::ResourceExhaustedError(absl::StrCat(
          "queue full: ", Queued(), " tracks waiting, ", jobs.size(),
          " more would pass --max_queue=", max_queue_, "; retry later"));
    }
    for (const Job& j : jobs) {
      const bool own_block = j.traits.job_class == JobClass::kInteractive &&
                             interactive_slots_ > 0;
      const int capacity = own_block ? interactive_slots_ : max_batch_;
      if (j.Rows() > capacity) {
        return absl::InvalidArgumentError(absl::StrCat(
            "track '", j.problem.id, "': options.starts: ", j.Rows(),
            " starts do not fit in the ", JobClassName(j.traits.job_class),
            " block's ", capacity, " slots"));
      }
    }
    stats_.submitted += static_cast<int64_t>(jobs.size());
    const Clock::time_point now = Now();
    for (Job& j : jobs) {
      j.submitted = now;
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
    case absl::StatusCode::kUnavailable:
      stats_.shut_down++;
      break;
    default:
      break;
  }
}

void Scheduler::ReleaseBatchRows(const std::string& caller, int rows) {
  // Caller holds mu_.
  auto it = batch_active_.find(caller);
  if (it != batch_active_.end() && (it->second -= rows) <= 0)
    batch_active_.erase(it);
}

int Scheduler::NewTrack(Job job) {
  const int id = free_tracks_.back();
  free_tracks_.pop_back();
  ActiveTrack& track = tracks_[id];
  track = ActiveTrack{};
  if (job.problem.time_budget_ms > 0) {
    // From when the scheduler took the track: queueing counts, as the
    // caller waits through it too.
    track.budget_end =
        job.submitted + std::chrono::milliseconds(job.problem.time_budget_ms);
    // A budget spent in the queue still runs one step (retiring comes after
    // a step): an answer needs a point the track was evaluated at.
  }
  track.rows.resize(job.Rows());
  track.rows_active = job.Rows();
  track.job = std::move(job);
  return id;
}

void Scheduler::ReleaseTrack(int track) {
  tracks_[track] = ActiveTrack{};
  free_tracks_.push_back(track);
}

void Scheduler::Admit(Block& block) {
  const Clock::time_point now = Now();
  std::vector<Job> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int free = block.slots.Free();
    // FIFO; a track whose starts do not fit waits for rows to free.
    auto take_interactive = [&](bool count_as_batch) {
      while (!interactive_queue_.empty() &&
             interactive_queue_.front().Rows() <= free) {
        Job& job = interactive_queue_.front();
        free -= job.Rows();
        if (count_as_batch) batch_active_[job.traits.caller] += job.Rows();
        taken.push_back(std::move(job));
        interactive_queue_.pop_front();
      }
    };
    if (block.job_class == JobClass::kInteractive) {
      take_interactive(false);
    } else {
      // With no interactive block, interactive jobs are first in line here.
      if (interactive_slots_ == 0) take_interactive(true);
      std::vector<Job> fair = batch_queue_.Take(free, &batch_active_);
      for (Job& j : fair) taken.push_back(std::move(j));
    }
  }
  if (taken.empty()) return;
  // Starts from a pool: one forward pass scores every admitted track's pool.
  // Should it fail, the tracks keep their uniform starts (as valid, only
  // less good).
  models::StartPoolBatch pools(featurizer_);
  for (Job& job : taken) pools.Add(&job.problem);
  if (absl::Status s = pools.Choose([this](const float* x, int n, float* out) {
        return backend_->Predict(x, n, out);
      });
      !s.ok()) {
    NIO_LOG(ERROR) << "scoring start pools failed: " << s;
  }
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
    const int starts = job.Rows();
    const int steps_wanted = job.problem.steps;
    const int track = NewTrack(std::move(job));
    for (int s = 0; s < starts; ++s) {
      steps.push_back(steps_wanted);
      const int64_t ticket = free_tickets_.back();
      free_tickets_.pop_back();
      tickets.push_back(ticket);
      row_owner_[ticket] = RowOwner{track, s};
    }
  }
  if (!dropped.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [job, why] : dropped) {
        CountEnded(why, job.traits.job_class);
        if (block.job_class == JobClass::kBatch)
          ReleaseBatchRows(job.traits.caller, job.Rows());
      }
    }
    for (auto& [job, why] : dropped) job.on_done(TrackOutcome{why, {}});
  }
  if (tickets.empty()) return;
  if (absl::Status s = block.slots.Admit(rows.View(), tickets, steps);
      !s.ok()) {
    NIO_LOG(ERROR) << "admitting " << tickets.size() << " rows failed: " << s;
    // A fault that stays is reported before any caller hears of it.
    CheckBackendHealth();
    ForgetTickets(block, tickets, s);
  }
}

void Scheduler::ForgetTickets(Block& block, const std::vector<int64_t>& tickets,
                              const absl::Status& cause) {
  std::vector<int> lost;  // track ids, each once
  for (int64_t ticket : tickets) {
    const int track = row_owner_[ticket].track;
    row_owner_[ticket] = RowOwner{};
    free_tickets_.push_back(ticket);
    if (track < 0) continue;
    if (--tracks_[track].rows_active == 0) lost.push_back(track);
  }
  const absl::Status why = absl::InternalError(
      absl::StrCat("the compute backend failed: ", cause.message()));
  std::vector<Job> jobs;
  for (int track : lost) {
    jobs.push_back(std::move(tracks_[track].job));
    ReleaseTrack(track);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Job& job : jobs) {
      CountEnded(why, job.traits.job_class);
      if (block.job_class == JobClass::kBatch)
        ReleaseBatchRows(job.traits.caller, job.Rows());
    }
  }
  for (Job& job : jobs) job.on_done(TrackOutcome{why, {}});
}

void Scheduler::FailBlock(Block& block, const absl::Status& status) {
  NIO_LOG(ERROR) << "backend failure, failing the " << block.slots.Active()
                 << " rows of the " << JobClassName(block.job_class)
                 << " block: " << status;
  std::vector<int64_t> tickets;
  for (const kernels::SlotInfo& slot : block.slots.Abandon())
    tickets.push_back(slot.ticket);
  block.step_rows = block.step_done_rows = 0;
  block.step_time = {};
  // A fault that stays is reported (health NOT_SERVING) before any caller
  // hears of it.
  CheckBackendHealth();
  // Rows of the same tracks that left already wait in their tracks; the
  // whole track fails with its last row.
  ForgetTickets(block, tickets, status);
}

void Scheduler::EmitProgress(Block& block) {
  const auto& slots = block.slots.Slots();
  std::vector<int> rows;
  for (int row = 0; row < static_cast<int>(slots.size()); ++row) {
    // One event per track: its first start's (the track as given).
    const RowOwner& owner = row_owner_[slots[row].ticket];
    if (owner.start != 0) continue;
    const Job& job = tracks_[owner.track].job;
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
    tracks_[row_owner_[slot.ticket].track].job.on_progress(slot.steps_done,
                                                           prediction[i]);
  }
}

void Scheduler::FinishRetired(Block& block,
                              std::vector<kernels::RetiredSlot>& retired) {
  std::deque<Finished>& finished = finished_[static_cast<int>(block.job_class)];
  // Batch rows free as they leave, whatever their track's siblings do.
  std::unordered_map<std::string, int> left_by_caller;
  for (kernels::RetiredSlot& r : retired) {
    const RowOwner owner = row_owner_[r.info.ticket];
    row_owner_[r.info.ticket] = RowOwner{};
    free_tickets_.push_back(r.info.ticket);
    ActiveTrack& track = tracks_[owner.track];
    if (block.job_class == JobClass::kBatch)
      ++left_by_caller[track.job.traits.caller];
    track.rows[owner.start] = std::move(r);
    if (--track.rows_active > 0) continue;
    Finished f{std::move(track.job), std::move(track.rows), track.time_budget,
               false};
    for (const kernels::RetiredSlot& row : f.rows) {
      const bool ended = row.info.steps_done >= row.info.steps_wanted ||
                         row.info.flags != 0 || track.stop;
      f.cut = f.cut || !ended;
    }
    finished.push_back(std::move(f));
    ReleaseTrack(owner.track);
  }
  if (!left_by_caller.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [caller, rows] : left_by_caller)
      ReleaseBatchRows(caller, rows);
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
  const Clock::time_point now = Now();
  std::vector<TrackOutcome> outcomes(batch.size());
  models::ResultBatch results(featurizer_);
  for (size_t i = 0; i < batch.size(); ++i) {
    const Finished& f = batch[i];
    if (!f.cut) {
      results.Add(f.job.problem, f.rows, f.time_budget);
      continue;
    }
    outcomes[i].status = LeaveReason(f.job, now);
    if (outcomes[i].status.ok()) {
      outcomes[i].status = absl::UnavailableError(
          "the server shut down before the track finished");
    }
  }
  auto built = results.Build([this](const float* x, int rows, float* out) {
    return backend_->Predict(x, rows, out);
  });
  if (!built.ok()) {
    NIO_LOG(ERROR) << "predicting finished tracks failed: " << built.status();
  }
  size_t next_result = 0;
  std::vector<bool> requeued(batch.size(), false);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].cut) continue;
    TrackOutcome& outcome = outcomes[i];
    if (!built.ok()) {
      outcome.status = absl::InternalError(built.status().ToString());
      ++next_result;
      continue;
    }
    outcome.result = std::move((*built)[next_result++]);
    std::optional<models::NioProblem> pass = models::ChangeBudgetPass(
        featurizer_, batch[i].job.problem, outcome.result);
    if (pass) {
      batch[i].job.problem = std::move(*pass);
      Requeue(std::move(batch[i].job));
      requeued[i] = true;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!requeued[i])
        CountEnded(outcomes[i].status, batch[i].job.traits.job_class);
    }
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!requeued[i]) batch[i].job.on_done(std::move(outcomes[i]));
  }
}

void Scheduler::Requeue(Job job) {
  std::lock_guard<std::mutex> lock(mu_);
  if (job.traits.job_class == JobClass::kInteractive) {
    interactive_queue_.push_front(std::move(job));
  } else {
    batch_queue_.PushFront(std::move(job));
  }
}

void Scheduler::MarkTrackStops(Block& block, Clock::time_point now) {
  for (const kernels::SlotInfo& slot : block.slots.Slots()) {
    const RowOwner& owner = row_owner_[slot.ticket];
    ActiveTrack& track = tracks_[owner.track];
    // The track as given reached the target: no start can answer with a
    // smaller change. (Other starts that reach it stop on their own.)
    if (owner.start == 0 && slot.steps_done == 1 &&
        (slot.flags & kernels::kRowReachedTarget)) {
      track.stop = true;
    }
    if (now >= track.budget_end) track.stop = track.time_budget = true;
  }
}

void Scheduler::RetireFinished(Block& block) {
  std::vector<kernels::RetiredSlot> retired;
  const Clock::time_point now = Now();
  MarkTrackStops(block, now);
  absl::Status s = block.slots.Retire(
      [&](const kernels::SlotInfo& slot) {
        const ActiveTrack& track = tracks_[row_owner_[slot.ticket].track];
        // A row that reached the target or converged stops on its own.
        return track.stop || slot.flags != 0 ||
               !LeaveReason(track.job, now).ok();
      },
      &retired);
  if (!s.ok()) {
    FailBlock(block, s);
    return;
  }
  if (!retired.empty()) FinishRetired(block, retired);
}

void Scheduler::EndStep(Block& block, int rows) {
  const double step_s = std::chrono::duration<double>(block.step_time).count();
  block.step_time = {};
  {
    std::lock_guard<std::mutex> lock(mu_);
    ClassStats& c = stats_.by_class[static_cast<int>(block.job_class)];
    c.steps++;
    c.track_steps += rows;
    c.formed_batch[FormedBatchBucket(rows)]++;
    c.step_seconds[StepSecondsBucket(step_s)]++;
    c.step_seconds_sum += step_s;
    stats_.steps++;
    stats_.track_steps += rows;
  }
  EmitProgress(block);
  RetireFinished(block);
}

void Scheduler::RunStep(Block& block) {
  const int rows = block.slots.Active();
  const Clock::time_point start = Now();
  if (absl::Status s = block.slots.Step(); !s.ok()) {
    FailBlock(block, s);
    return;
  }
  block.step_time = Now() - start;
  EndStep(block, rows);
}

void Scheduler::RunBatchChunk(Block& block) {
  if (!block.MidStep()) block.step_rows = block.slots.Active();
  const int left = block.step_rows - block.step_done_rows;
  // Fixed cuts; a remainder shorter than a chunk joins the chunk before it.
  const int rows = batch_chunk_rows_ == 0 || left < 2 * batch_chunk_rows_
                       ? left
                       : batch_chunk_rows_;
  const Clock::time_point start = Now();
  if (absl::Status s = block.slots.StepRows(block.step_done_rows, rows);
      !s.ok()) {
    FailBlock(block, s);
    return;
  }
  block.step_time += Now() - start;
  block.step_done_rows += rows;
  if (block.step_done_rows < block.step_rows) return;
  const int step_rows = block.step_rows;
  block.step_rows = block.step_done_rows = 0;
  EndStep(block, step_rows);
}

void Scheduler::DropDeadQueued(Clock::time_point now) {
  if (now - last_dead_scan_ < kDeadScanInterval) return;
  last_dead_scan_ = now;
  std::vector<std::pair<Job, absl::Status>> dead;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Queued() == 0) return;
    auto is_dead = [&](const Job& job) { return !LeaveReason(job, now).ok(); };
    for (auto it = interactive_queue_.begin();
         it != interactive_queue_.end();) {
      if (is_dead(*it)) {
        absl::Status why = LeaveReason(*it, now);
        dead.emplace_back(std::move(*it), std::move(why));
        it = interactive_queue_.erase(it);
      } else {
        ++it;
      }
    }
    for (Job& job : batch_queue_.TakeIf(is_dead)) {
      absl::Status why = LeaveReason(job, now);
      dead.emplace_back(std::move(job), std::move(why));
    }
    for (const auto& [job, why] : dead) CountEnded(why, job.traits.job_class);
  }
  for (auto& [job, why] : dead) job.on_done(TrackOutcome{why, {}});
}

void Scheduler::ShutDownNow(Block* blocks) {
  std::vector<Job> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Job& j : interactive_queue_) left.push_back(std::move(j));
    interactive_queue_.clear();
    for (Job& j : batch_queue_.TakeAll()) left.push_back(std::move(j));
    for (const Job& job : left)
      CountEnded(absl::UnavailableError(""), job.traits.job_class);
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
    block.step_time = {};
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
  stats_.graph_captures = backend_->GraphCaptures();
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
    DropDeadQueued(Now());
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
