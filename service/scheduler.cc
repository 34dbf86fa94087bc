#include "service/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "kernels/status_macros.h"
#include "service/log.h"

namespace nio::service {

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(
    const models::Model& model, const SchedulerOptions& options) {
  if (options.max_batch <= 0 || options.max_queue < 0) {
    return absl::InvalidArgumentError("max_batch must be > 0 and max_queue >= 0");
  }
  kernels::BackendOptions backend_options;
  backend_options.max_rows = options.max_batch;
  backend_options.threads = options.threads;
  backend_options.allow_tf32 = options.allow_tf32;
  NIO_ASSIGN_OR_RETURN(
      kernels::CreatedBackend created,
      kernels::CreateBackend(options.backend, model.mlp,
                             models::MovableColumns(model.spec), backend_options));
  return std::unique_ptr<Scheduler>(
      new Scheduler(model, std::move(created.backend), created.log_line, options));
}

Scheduler::Scheduler(const models::Model& model,
                     std::unique_ptr<kernels::Backend> backend, std::string log_line,
                     const SchedulerOptions& options)
    : model_(model),
      featurizer_(model.spec),
      backend_(std::move(backend)),
      backend_description_(backend_->Describe()),
      backend_log_line_(std::move(log_line)),
      max_batch_(options.max_batch),
      max_queue_(options.max_queue),
      interactive_reserve_(options.interactive_reserve >= 0
                               ? std::min(options.interactive_reserve, options.max_batch - 1)
                               : std::min(std::max(1, options.max_batch / 16), options.max_batch - 1)) {
  jobs_by_ticket_.resize(max_batch_);
  for (int t = max_batch_ - 1; t >= 0; --t) free_tickets_.push_back(t);
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() { Stop(Clock::now()); }

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
    for (Job& j : jobs) queues_[static_cast<int>(j.priority)].push_back(std::move(j));
  }
  work_cv_.notify_one();
  return absl::OkStatus();
}

void Scheduler::Predict(std::vector<float> x, int rows,
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
  s.queued = static_cast<int>(Queued());
  return s;
}

absl::Status Scheduler::LeaveReason(const Job& job, Clock::time_point now) const {
  if (!job.control) return absl::OkStatus();
  // gRPC reports an expired deadline as a cancellation, a moment before or
  // after our steady-clock copy of the deadline; such a cancellation counts
  // as the deadline.
  constexpr auto kDeadlineSlack = std::chrono::milliseconds(50);
  const Clock::time_point deadline = job.control->deadline;
  const bool near_deadline =
      deadline != Clock::time_point::max() && now + kDeadlineSlack > deadline;
  if (now > deadline ||
      (near_deadline && job.control->cancelled.load(std::memory_order_relaxed))) {
    return absl::DeadlineExceededError("the call's deadline passed");
  }
  if (job.control->cancelled.load(std::memory_order_relaxed)) {
    return absl::CancelledError("the call was cancelled");
  }
  return absl::OkStatus();
}

void Scheduler::AdmitQueued(kernels::SlotBatch& batch) {
  std::vector<Job> admitted;
  std::vector<Job> dropped;
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Interactive tracks first, into any free slot; bulk ones leave the
    // reserve free.
    for (int priority = 0; priority < 2; ++priority) {
      std::deque<Job>& queue = queues_[priority];
      const int limit = batch.Free() - (priority == 0 ? 0 : interactive_reserve_);
      while (!queue.empty() && static_cast<int>(admitted.size()) < limit) {
        Job job = std::move(queue.front());
        queue.pop_front();
        if (!LeaveReason(job, now).ok()) {
          dropped.push_back(std::move(job));
        } else {
          admitted.push_back(std::move(job));
        }
      }
    }
  }
  for (Job& job : dropped) {
    const absl::Status why = LeaveReason(job, now);
    {
      std::lock_guard<std::mutex> lock(mu_);
      (why.code() == absl::StatusCode::kCancelled ? stats_.cancelled : stats_.deadline_exceeded)++;
    }
    job.on_done(TrackOutcome{why, {}});
  }
  if (admitted.empty()) return;
  const size_t n = admitted.size();
  std::vector<float> x0, lo, hi, lr, lambda;
  std::vector<uint8_t> mask;
  std::vector<int64_t> tickets;
  std::vector<int> steps;
  for (Job& job : admitted) {
    const models::NioProblem& p = job.problem;
    x0.insert(x0.end(), p.x0.begin(), p.x0.end());
    mask.insert(mask.end(), p.mask.begin(), p.mask.end());
    lo.insert(lo.end(), p.lo.begin(), p.lo.end());
    hi.insert(hi.end(), p.hi.begin(), p.hi.end());
    lr.push_back(p.lr);
    lambda.push_back(p.lambda);
    steps.push_back(p.steps);
    const int64_t ticket = free_tickets_.back();
    free_tickets_.pop_back();
    tickets.push_back(ticket);
    jobs_by_ticket_[ticket] = std::move(job);
  }
  kernels::NioRows rows{static_cast<int>(n), x0.data(), mask.data(), lo.data(),
                        hi.data(), lr.data(), lambda.data()};
  if (absl::Status s = batch.Admit(rows, tickets, steps); !s.ok()) {
    NIO_LOG(ERROR) << "admitting " << n << " tracks failed: " << s;
    for (int64_t t : tickets) {
      Job job = std::move(jobs_by_ticket_[t]);
      free_tickets_.push_back(t);
      job.on_done(TrackOutcome{absl::InternalError(s.ToString()), {}});
    }
  }
}

void Scheduler::FailActive(kernels::SlotBatch& batch, const absl::Status& status) {
  NIO_LOG(ERROR) << "backend failure, failing " << batch.Active() << " tracks: " << status;
  std::vector<kernels::RetiredSlot> retired;
  absl::Status s = batch.Retire([](const kernels::SlotInfo&) { return true; }, &retired);
  for (auto& r : retired) {
    Job job = std::move(jobs_by_ticket_[r.info.ticket]);
    free_tickets_.push_back(r.info.ticket);
    job.on_done(TrackOutcome{absl::InternalError(status.ToString()), {}});
  }
  (void)s;
}

void Scheduler::EmitProgress(kernels::SlotBatch& batch) {
  const auto& slots = batch.Slots();
  progress_rows_.clear();
  for (int row = 0; row < static_cast<int>(slots.size()); ++row) {
    const Job& job = jobs_by_ticket_[slots[row].ticket];
    if (job.progress_every > 0 && slots[row].steps_done % job.progress_every == 0 &&
        job.on_progress) {
      progress_rows_.push_back(row);
    }
  }
  if (progress_rows_.empty()) return;
  // Only the rows due an event are read (on a GPU, a gather and one small copy).
  progress_prediction_.resize(progress_rows_.size());
  if (!backend_->GatherRows(progress_rows_, nullptr, progress_prediction_.data()).ok()) {
    return;
  }
  for (size_t i = 0; i < progress_rows_.size(); ++i) {
    const kernels::SlotInfo& slot = slots[progress_rows_[i]];
    jobs_by_ticket_[slot.ticket].on_progress(slot.steps_done, progress_prediction_[i]);
  }
}

void Scheduler::FinishRetired(std::vector<kernels::RetiredSlot>& retired) {
  const int n_in = featurizer_.InputSize();
  std::vector<Job> done_jobs;
  std::vector<size_t> finished;  // indices into retired that ran all steps
  std::vector<float> inputs;
  const Clock::time_point now = Clock::now();
  for (size_t i = 0; i < retired.size(); ++i) {
    const int64_t ticket = retired[i].info.ticket;
    done_jobs.push_back(std::move(jobs_by_ticket_[ticket]));
    free_tickets_.push_back(ticket);
    if (retired[i].info.steps_done >= retired[i].info.steps_wanted) {
      finished.push_back(i);
      const auto x = models::ResultInputs(featurizer_, done_jobs.back().problem, retired[i].p);
      inputs.insert(inputs.end(), x.begin(), x.end());
    }
  }
  std::vector<float> predictions(finished.size() * 3);
  absl::Status predict_status = absl::OkStatus();
  if (!finished.empty()) {
    predict_status = backend_->Predict(inputs.data(), static_cast<int>(predictions.size()),
                                       predictions.data());
  }
  int64_t completed = 0, cancelled = 0, expired = 0;
  size_t f = 0;
  for (size_t i = 0; i < retired.size(); ++i) {
    Job& job = done_jobs[i];
    TrackOutcome outcome;
    if (f < finished.size() && finished[f] == i) {
      if (predict_status.ok()) {
        const std::vector<float> x(inputs.begin() + f * 3 * n_in,
                                   inputs.begin() + (f + 1) * 3 * n_in);
        outcome.result = models::BuildNioResult(featurizer_, job.problem, x,
                                                &predictions[3 * f], retired[i].info.steps_done);
        ++completed;
      } else {
        outcome.status = absl::InternalError(predict_status.ToString());
      }
      ++f;
    } else {
      outcome.status = LeaveReason(job, now);
      if (outcome.status.ok()) {
        outcome.status = absl::UnavailableError("the server shut down before the track finished");
      }
      (outcome.status.code() == absl::StatusCode::kCancelled ? cancelled : expired)++;
    }
    job.on_done(std::move(outcome));
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.completed += completed;
  stats_.cancelled += cancelled;
  stats_.deadline_exceeded += expired;
}

void Scheduler::Loop() {
  kernels::SlotBatch batch(backend_.get());
  std::vector<kernels::RetiredSlot> retired;
  while (true) {
    std::deque<std::function<void()>> predicts;
    bool past_stop_deadline = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] {
        return stopping_ || Queued() > 0 || !predict_tasks_.empty() || batch.Active() > 0;
      });
      predicts.swap(predict_tasks_);
      past_stop_deadline = stopping_ && Clock::now() >= stop_deadline_;
      if (stopping_ && Queued() == 0 && predicts.empty() && batch.Active() == 0) break;
    }
    for (auto& task : predicts) task();
    if (past_stop_deadline) {
      // Drain time is over: everything still here ends as UNAVAILABLE.
      std::deque<Job> left[2];
      {
        std::lock_guard<std::mutex> lock(mu_);
        left[0].swap(queues_[0]);
        left[1].swap(queues_[1]);
      }
      for (auto& queue : left) {
        for (Job& job : queue) {
          job.on_done(TrackOutcome{absl::UnavailableError("the server shut down"), {}});
        }
      }
      retired.clear();
      if (batch.Retire([](const kernels::SlotInfo&) { return true; }, &retired).ok()) {
        FinishRetired(retired);
      }
      continue;
    }
    AdmitQueued(batch);
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.active = batch.Active();
    }
    if (batch.Active() == 0) continue;
    if (absl::Status s = batch.Step(); !s.ok()) {
      FailActive(batch, s);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.steps++;
      stats_.track_steps += batch.Active();
      stats_.active = batch.Active();
      stats_.queued = static_cast<int>(Queued());
    }
    EmitProgress(batch);
    retired.clear();
    const Clock::time_point now = Clock::now();
    absl::Status s = batch.Retire(
        [&](const kernels::SlotInfo& slot) {
          return !LeaveReason(jobs_by_ticket_[slot.ticket], now).ok();
        },
        &retired);
    if (!s.ok()) {
      FailActive(batch, s);
      continue;
    }
    if (!retired.empty()) FinishRetired(retired);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.active = batch.Active();
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.active = 0;
  stats_.queued = 0;
}

}  // namespace nio::service
