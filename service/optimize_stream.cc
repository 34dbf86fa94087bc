#include "service/optimize_stream.h"

#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/optimize_call.h"
#include "service/proto_convert.h"
#include "service/request_builder.h"
#include "service/status_util.h"

namespace nio::service {

OptimizeStream::OptimizeStream(const CallResources* resources,
                               grpc::CallbackServerContext* context,
                               Caller caller, std::string share_key)
    : resources_(resources),
      window_(resources->stream_window),
      caller_(std::make_shared<const Caller>(std::move(caller))),
      share_key_(std::move(share_key)),
      timer_(resources->metrics, "OptimizeStream"),
      control_(std::make_shared<CallControl>()),
      state_(std::make_shared<State>()) {
  timer_.SetCaller(caller_->label);
  control_->deadline = SteadyDeadline(context);
  const double rate = resources->limits.max_progress_events_per_s;
  state_->progress_rate = TokenBucket(rate, rate);
  state_->ledger = resources->ledger;
  state_->caller = caller_;
  state_->metrics = resources->metrics;
  state_->reactor = this;
  std::lock_guard<std::mutex> lock(state_->mu);
  if (absl::Status s = resources->ledger->OpenStream(*caller_); !s.ok()) {
    state_->finished = true;
    timer_.Done(s.code());
    Finish(ToGrpcStatus(s));
    return;
  }
  stream_counted_ = true;
  MaybeReadLocked();
}

void OptimizeStream::MaybeReadLocked() {
  if (state_->reading || state_->half_closed || state_->finished) return;
  if (state_->waiting || state_->retrying ||
      state_->in_flight + state_->unsent_results >= window_) {
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
  // A repeated id fails alone and every id is answered once: a copy of an
  // id the stream already has is dropped (its own track answers), an id
  // repeated within this message is answered once with the error and none
  // of its copies run; the message's other tracks go on.
  std::unordered_map<std::string, int> copies;
  for (const nio::v1::Track& t : request.tracks()) ++copies[t.id()];
  google::protobuf::RepeatedPtrField<nio::v1::Track> tracks;
  std::vector<nio::v1::OptimizeStreamResponse> repeated;
  for (int i = 0; i < request.tracks_size(); ++i) {
    const nio::v1::Track& t = request.tracks(i);
    if (t.id().empty()) {
      *tracks.Add() = t;  // the whole message is refused below
      continue;
    }
    if (seen_ids_.count(t.id())) continue;
    if (copies[t.id()] > 1) {
      seen_ids_.insert(t.id());
      repeated.push_back(error_result(
          t.id(), absl::InvalidArgumentError(absl::StrCat(
                      "tracks[", i, "].id: '", t.id(), "' appears ",
                      copies[t.id()], " times in one message"))));
      continue;
    }
    *tracks.Add() = t;
  }
  auto built =
      tracks.empty()
          ? absl::StatusOr<std::vector<BuiltTrack>>(std::vector<BuiltTrack>{})
          : BuildTracks(resources_->scheduler->featurizer(), tracks,
                        request.options(), &seen_ids_, resources_->limits);
  std::lock_guard<std::mutex> lock(state_->mu);
  for (auto& r : repeated) EnqueueLocked(std::move(r));
  if (request.tracks().empty()) {
    EnqueueLocked(error_result(
        "", absl::InvalidArgumentError("tracks: the request has no tracks")));
    return;
  }
  if (!built.ok()) {
    // The message is bad as a whole: each of its tracks fails with that,
    // once per id; the ids answered here count as used, so no later track
    // reuses them either.
    for (const nio::v1::Track& t : tracks) {
      if (!seen_ids_.insert(t.id()).second) continue;
      EnqueueLocked(error_result(t.id(), built.status()));
    }
    return;
  }
  if (built->empty()) return;
  auto job_class = ChooseJobClass(
      request.options().priority(), JobClass::kBatch, tracks.size(),
      resources_->interactive_max_tracks, caller_->batch_only);
  if (!job_class.ok()) {
    for (const nio::v1::Track& t : tracks) {
      seen_ids_.erase(t.id());  // refused as a whole: the id may come again
      EnqueueLocked(error_result(t.id(), job_class.status()));
    }
    return;
  }
  timer_.SetClass(JobClassName(*job_class));
  JobTraits traits;
  traits.job_class = *job_class;
  traits.caller = share_key_;
  traits.control = control_;
  traits.progress_every = request.options().progress_every();
  int64_t reserved = 0;
  for (const BuiltTrack& b : *built) {
    if (b.problem.ok()) reserved += TrackSteps(*b.problem);
  }
  if (absl::Status s = state_->ledger->Reserve(*caller_, reserved); !s.ok()) {
    // Its ids are not used yet: the message may come again, or (held) run
    // later.
    for (const BuiltTrack& b : *built) seen_ids_.erase(b.id);
    if (state_->in_flight > 0) {
      // This stream's own answers will give budget back: hold the message,
      // and stop reading, until they have (OnWriteDone retries it).
      state_->waiting = request;
      state_->waiting_steps = reserved;
      return;
    }
    for (const BuiltTrack& b : *built) {
      EnqueueLocked(
          error_result(b.id, b.problem.ok() ? s : b.problem.status()));
    }
    return;
  }
  std::vector<Job> jobs;
  std::vector<std::string> ids;
  for (BuiltTrack& b : *built) {
    if (!b.problem.ok()) {
      EnqueueLocked(error_result(b.id, b.problem.status()));
      continue;
    }
    std::shared_ptr<State> state = state_;
    auto on_done = [state, id = b.id,
                    cost = TrackSteps(*b.problem)](TrackOutcome outcome) {
      state->ledger->Release(*state->caller, cost);
      TrackDone(state, id, std::move(outcome));
    };
    auto on_progress = [state, id = b.id](int step, double prediction) {
      std::lock_guard<std::mutex> lock(state->mu);
      if (!state->reactor) return;
      if (!state->progress_rate.Take(Clock::now())) {
        if (state->metrics) state->metrics->CountDroppedProgress("rate");
        return;
      }
      nio::v1::OptimizeStreamResponse r;
      r.mutable_progress()->set_id(id);
      r.mutable_progress()->set_step(step);
      r.mutable_progress()->set_prediction(prediction);
      state->reactor->EnqueueLocked(std::move(r));
    };
    ids.push_back(b.id);
    jobs.push_back(MakeJob(std::move(*b.problem), traits, std::move(on_done),
                           std::move(on_progress)));
  }
  if (jobs.empty()) return;
  state_->in_flight += static_cast<int>(jobs.size());
  // Submit outside the lock would be nicer, but the scheduler never calls
  // back synchronously from Submit, so holding it is safe.
  if (absl::Status s = resources_->scheduler->Submit(std::move(jobs));
      !s.ok()) {
    state_->ledger->Release(*caller_, reserved);
    state_->in_flight -= static_cast<int>(ids.size());
    for (const std::string& id : ids) {
      seen_ids_.erase(id);  // refused (queue full): the id may come again
      EnqueueLocked(error_result(id, s));
    }
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
    if (state_->unsent_progress >= window_) {
      if (state_->metrics) state_->metrics->CountDroppedProgress("window");
      return;
    }
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
  std::unique_lock<std::mutex> lock(state_->mu);
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
  // A message held for the caller's budget runs once the budget is back,
  // or is refused once nothing of this stream is left to give it back. Each
  // answer written follows its budget's release, so this is the moment to
  // look; on this thread, never the scheduler's (Submit must not run on it).
  if (state_->waiting && !state_->retrying && !control_->cancelled.load() &&
      (state_->in_flight == 0 ||
       state_->ledger->WouldFit(*caller_, state_->waiting_steps))) {
    nio::v1::OptimizeStreamRequest held = std::move(*state_->waiting);
    state_->waiting.reset();
    state_->retrying = true;
    lock.unlock();
    HandleRequest(held);
    lock.lock();
    state_->retrying = false;
  }
  if (state_->read_paused) MaybeReadLocked();
  MaybeFinishLocked();
}

void OptimizeStream::MaybeFinishLocked() {
  if (state_->finished || state_->writing) return;
  if (control_->cancelled.load()) {
    state_->finished = true;
    // gRPC cancels a stream whose deadline passed the same way.
    timer_.Done(Clock::now() >= control_->deadline
                    ? absl::StatusCode::kDeadlineExceeded
                    : absl::StatusCode::kCancelled);
    Finish(
        grpc::Status(grpc::StatusCode::CANCELLED, "the stream was cancelled"));
    return;
  }
  if (state_->half_closed && state_->in_flight == 0 &&
      state_->to_write.empty() && !state_->reading && !state_->waiting &&
      !state_->retrying) {
    state_->finished = true;
    timer_.Done(absl::StatusCode::kOk);
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
  if (stream_counted_) resources_->ledger->CloseStream(*caller_);
  delete this;
}

}  // namespace nio::service
