#include "service/optimize_stream.h"

#include "service/optimize_call.h"
#include "service/proto_convert.h"
#include "service/request_builder.h"
#include "service/status_util.h"

namespace nio::service {

OptimizeStream::OptimizeStream(Scheduler* scheduler,
                               grpc::CallbackServerContext* context, int window,
                               int interactive_max_tracks, std::string caller)
    : scheduler_(scheduler),
      window_(window),
      interactive_max_tracks_(interactive_max_tracks),
      caller_(std::move(caller)),
      control_(std::make_shared<CallControl>()),
      state_(std::make_shared<State>()) {
  control_->deadline = SteadyDeadline(context);
  state_->reactor = this;
  std::lock_guard<std::mutex> lock(state_->mu);
  MaybeReadLocked();
}

void OptimizeStream::MaybeReadLocked() {
  if (state_->reading || state_->half_closed || state_->finished) return;
  if (state_->in_flight + state_->unsent_results >= window_) {
    state_->read_paused = true;
    return;
  }
  state_->read_paused = false;
  state_->reading = true;
  StartRead(&request_);
}

void OptimizeStream::OnReadDone(bool ok) {
  if (ok) HandleRequest(request_);
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->reading = false;
  if (!ok) state_->half_closed = true;
  MaybeReadLocked();
  MaybeFinishLocked();
}

void OptimizeStream::HandleRequest(
    const nio::v1::OptimizeStreamRequest& request) {
  auto error_result = [](const std::string& id, const absl::Status& status) {
    nio::v1::OptimizeStreamResponse r;
    r.mutable_result()->set_id(id);
    SetTrackStatus(status, r.mutable_result()->mutable_status());
    return r;
  };
  auto built = BuildTracks(scheduler_->featurizer(), request.tracks(),
                           request.options(), &seen_ids_);
  std::lock_guard<std::mutex> lock(state_->mu);
  if (!built.ok()) {
    // The message is bad as a whole: each of its tracks fails with that,
    // once per id. An id the stream already had is answered by its own
    // track, so it gets no second answer here; the ids answered here count
    // as used, so no later track reuses them either.
    if (request.tracks().empty()) {
      EnqueueLocked(error_result("", built.status()));
    }
    for (const nio::v1::Track& t : request.tracks()) {
      if (!seen_ids_.insert(t.id()).second) continue;
      EnqueueLocked(error_result(t.id(), built.status()));
    }
    return;
  }
  auto job_class =
      ChooseJobClass(request.options().priority(), JobClass::kBatch,
                     request.tracks_size(), interactive_max_tracks_);
  if (!job_class.ok()) {
    for (const nio::v1::Track& t : request.tracks()) {
      EnqueueLocked(error_result(t.id(), job_class.status()));
    }
    return;
  }
  JobTraits traits;
  traits.job_class = *job_class;
  traits.caller = caller_;
  traits.control = control_;
  traits.progress_every = request.options().progress_every();
  std::vector<Job> jobs;
  std::vector<std::string> ids;
  for (BuiltTrack& b : *built) {
    if (!b.problem.ok()) {
      EnqueueLocked(error_result(b.id, b.problem.status()));
      continue;
    }
    std::shared_ptr<State> state = state_;
    auto on_done = [state, id = b.id](TrackOutcome outcome) {
      TrackDone(state, id, std::move(outcome));
    };
    auto on_progress = [state, id = b.id](int step, double prediction) {
      nio::v1::OptimizeStreamResponse r;
      r.mutable_progress()->set_id(id);
      r.mutable_progress()->set_step(step);
      r.mutable_progress()->set_prediction(prediction);
      std::lock_guard<std::mutex> lock(state->mu);
      if (state->reactor) state->reactor->EnqueueLocked(std::move(r));
    };
    ids.push_back(b.id);
    jobs.push_back(MakeJob(std::move(*b.problem), traits, std::move(on_done),
                           std::move(on_progress)));
  }
  if (jobs.empty()) return;
  state_->in_flight += static_cast<int>(jobs.size());
  // Submit outside the lock would be nicer, but the scheduler never calls
  // back synchronously from Submit, so holding it is safe.
  if (absl::Status s = scheduler_->Submit(std::move(jobs)); !s.ok()) {
    state_->in_flight -= static_cast<int>(ids.size());
    for (const std::string& id : ids) EnqueueLocked(error_result(id, s));
  }
}

void OptimizeStream::TrackDone(const std::shared_ptr<State>& state,
                               std::string id, TrackOutcome outcome) {
  nio::v1::OptimizeStreamResponse r;
  if (outcome.status.ok()) {
    ToProto(outcome.result, r.mutable_result());
  } else {
    r.mutable_result()->set_id(id);
    SetTrackStatus(outcome.status, r.mutable_result()->mutable_status());
  }
  std::lock_guard<std::mutex> lock(state->mu);
  state->in_flight--;
  if (!state->reactor) return;  // the call is gone
  state->reactor->EnqueueLocked(std::move(r));
  if (state->read_paused) state->reactor->MaybeReadLocked();
  state->reactor->MaybeFinishLocked();
}

void OptimizeStream::EnqueueLocked(nio::v1::OptimizeStreamResponse response) {
  if (state_->finished) return;
  if (response.has_progress()) {
    // A reader that lags loses progress events, never results.
    if (state_->unsent_progress >= window_) return;
    ++state_->unsent_progress;
  } else {
    ++state_->unsent_results;
  }
  state_->to_write.push_back(std::move(response));
  MaybeWriteLocked();
}

void OptimizeStream::MaybeWriteLocked() {
  if (state_->writing || state_->to_write.empty() || state_->finished) return;
  state_->writing = true;
  StartWrite(&state_->to_write.front());
}

void OptimizeStream::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->writing = false;
  (state_->to_write.front().has_progress() ? state_->unsent_progress
                                           : state_->unsent_results)--;
  state_->to_write.pop_front();
  if (!ok) {
    // The client is gone: stop its tracks and finish.
    control_->cancelled.store(true);
    state_->to_write.clear();
    state_->unsent_results = state_->unsent_progress = 0;
    state_->half_closed = true;
  }
  MaybeWriteLocked();
  if (state_->read_paused) MaybeReadLocked();
  MaybeFinishLocked();
}

void OptimizeStream::MaybeFinishLocked() {
  if (state_->finished || state_->writing) return;
  if (control_->cancelled.load()) {
    state_->finished = true;
    Finish(
        grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled"));
    return;
  }
  if (state_->half_closed && state_->in_flight == 0 &&
      state_->to_write.empty() && !state_->reading) {
    state_->finished = true;
    Finish(grpc::Status::OK);
  }
}

void OptimizeStream::OnCancel() {
  control_->cancelled.store(true);
  std::lock_guard<std::mutex> lock(state_->mu);
  MaybeFinishLocked();
}

void OptimizeStream::OnDone() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->reactor = nullptr;
  }
  delete this;
}

}  // namespace nio::service
