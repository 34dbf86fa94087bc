#include "service/optimize_call.h"

#include <chrono>
#include <unordered_set>

#include "service/proto_convert.h"
#include "service/request_builder.h"
#include "service/status_util.h"

namespace nio::service {

Clock::time_point SteadyDeadline(const grpc::CallbackServerContext* context) {
  const auto deadline = context->deadline();
  const auto now = std::chrono::system_clock::now();
  if (deadline - now > std::chrono::hours(24 * 365))
    return Clock::time_point::max();
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(deadline - now);
}

OptimizeCall::OptimizeCall(const CallResources* resources,
                           grpc::CallbackServerContext* context,
                           const nio::v1::OptimizeRequest* request,
                           nio::v1::OptimizeResponse* response, Caller caller)
    : resources_(resources),
      caller_(std::make_shared<const Caller>(std::move(caller))),
      response_(response),
      control_(std::make_shared<CallControl>()),
      state_(std::make_shared<State>()),
      timer_(resources->metrics, "Optimize") {
  timer_.SetCaller(caller_->label);
  control_->deadline = SteadyDeadline(context);
  Run(*request);
}

void OptimizeCall::Run(const nio::v1::OptimizeRequest& request) {
  Scheduler* scheduler = resources_->scheduler;
  std::unordered_set<std::string> ids;
  auto built = BuildTracks(scheduler->featurizer(), request.tracks(),
                           request.options(), &ids, resources_->limits);
  if (!built.ok()) {
    End(ToGrpcStatus(built.status()));
    return;
  }
  if (absl::Status all = AllFailed(*built); !all.ok()) {
    End(ToGrpcStatus(all));
    return;
  }
  auto job_class =
      ChooseJobClass(request.options().priority(), JobClass::kInteractive,
                     request.tracks_size(), resources_->interactive_max_tracks,
                     caller_->batch_only);
  if (!job_class.ok()) {
    End(ToGrpcStatus(job_class.status()));
    return;
  }
  timer_.SetClass(JobClassName(*job_class));
  int64_t reserved = 0;
  for (const BuiltTrack& b : *built) {
    if (b.problem.ok()) reserved += TrackSteps(*b.problem);
  }
  CallerLedger* ledger = resources_->ledger;
  if (absl::Status s = ledger->Reserve(*caller_, reserved); !s.ok()) {
    End(ToGrpcStatus(s));
    return;
  }
  JobTraits traits;
  traits.job_class = *job_class;
  traits.caller = caller_->share_key;
  traits.control = control_;
  std::vector<Job> jobs;
  for (size_t i = 0; i < built->size(); ++i) {
    BuiltTrack& b = (*built)[i];
    nio::v1::TrackResult* r = response_->add_results();
    r->set_id(b.id);
    if (!b.problem.ok()) {
      SetTrackStatus(b.problem.status(), r->mutable_status());
      continue;
    }
    const int index = static_cast<int>(i);
    const int64_t cost = TrackSteps(*b.problem);
    jobs.push_back(MakeJob(
        std::move(*b.problem), traits,
        [this, index, ledger, caller = caller_, cost](TrackOutcome outcome) {
          ledger->Release(*caller, cost);
          TrackDone(index, std::move(outcome));
        }));
  }
  state_->remaining = static_cast<int>(jobs.size());
  if (absl::Status s = scheduler->Submit(std::move(jobs)); !s.ok()) {
    ledger->Release(*caller_, reserved);
    response_->clear_results();
    End(ToGrpcStatus(s));
  }
}

void OptimizeCall::End(const grpc::Status& status) {
  timer_.Done(static_cast<absl::StatusCode>(status.error_code()));
  Finish(status);
}

void OptimizeCall::OnCancel() { control_->cancelled.store(true); }

void OptimizeCall::TrackDone(int index, TrackOutcome outcome) {
  // Finish() may let gRPC delete this reactor at once (OnDone on another
  // thread), so the last track unlocks first and calls Finish() as its very
  // last touch of `this`.
  absl::Status ended_by;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    nio::v1::TrackResult* r = response_->mutable_results(index);
    if (outcome.status.ok()) {
      ToProto(outcome.result, r);
    } else {
      SetTrackStatus(outcome.status, r->mutable_status());
    }
    const absl::StatusCode code = outcome.status.code();
    if (code == absl::StatusCode::kCancelled ||
        code == absl::StatusCode::kDeadlineExceeded ||
        code == absl::StatusCode::kUnavailable) {
      state_->ended_by = outcome.status;  // the call as a whole ends this way
    }
    if (--state_->remaining > 0 || state_->finished) return;
    state_->finished = true;
    ended_by = state_->ended_by;
  }
  End(ToGrpcStatus(ended_by));
}

}  // namespace nio::service
