#include "client/local_engine.h"

#include <climits>

#include "kernels/status_macros.h"

namespace nio::client {

absl::StatusOr<std::unique_ptr<LocalEngine>> LocalEngine::Create(
    const models::Model& model, const service::SchedulerOptions& options,
    int window) {
  service::SchedulerOptions o = options;
  o.max_queue = INT_MAX;    // the window bounds what is queued
  o.interactive_slots = 0;  // nothing interactive shares this engine
  NIO_ASSIGN_OR_RETURN(auto scheduler, service::Scheduler::Create(model, o));
  return std::unique_ptr<LocalEngine>(
      new LocalEngine(std::move(scheduler), std::max(1, window)));
}

absl::Status LocalEngine::Start(std::function<void(EngineResult)> on_result) {
  on_result_ = std::move(on_result);
  return absl::OkStatus();
}

absl::Status LocalEngine::Send(const std::vector<models::RawTrack>& tracks,
                               const models::NioOptions& options) {
  service::JobTraits traits;
  traits.job_class = service::JobClass::kBatch;
  std::vector<service::Job> jobs;
  for (const models::RawTrack& t : tracks) {
    auto problem =
        models::BuildNioProblem(scheduler_->featurizer(), t, options);
    if (!problem.ok()) {
      on_result_(EngineResult{t.id, {problem.status(), {}}});
      continue;
    }
    jobs.push_back(
        service::MakeJob(std::move(*problem), traits,
                         [this, id = t.id](models::TrackOutcome outcome) {
                           on_result_(EngineResult{id, std::move(outcome)});
                           std::lock_guard<std::mutex> lock(mu_);
                           --in_flight_;
                           cv_.notify_all();
                         }));
  }
  if (jobs.empty()) return absl::OkStatus();
  const int count = static_cast<int>(jobs.size());
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock,
             [&] { return in_flight_ + count <= window_ || in_flight_ == 0; });
    in_flight_ += count;
  }
  absl::Status s = scheduler_->Submit(std::move(jobs));
  if (!s.ok()) {
    // Not queued: no callback will count these down.
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ -= count;
    cv_.notify_all();
  }
  return s;
}

absl::Status LocalEngine::Finish() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return in_flight_ == 0; });
  return absl::OkStatus();
}

std::string LocalEngine::Describe() const {
  return "in-process " + scheduler_->BackendDescription();
}

}  // namespace nio::client
