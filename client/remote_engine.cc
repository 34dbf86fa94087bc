#include "client/remote_engine.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "service/proto_convert.h"
#include "service/status_util.h"

namespace nio::client {

using service::FromGrpcStatus;
using service::FromTrackStatus;
using StreamCall = grpc::ClientReaderWriter<nio::v1::OptimizeStreamRequest,
                                            nio::v1::OptimizeStreamResponse>;

struct RemoteEngine::Stream {
  grpc::ClientContext context;
  std::unique_ptr<StreamCall> call;
  std::thread reader;
  // Orders Write, WritesDone and Finish, which gRPC forbids at once.
  std::mutex write_mu;
  bool write_closed = false;  // guarded by write_mu
  bool finished = false;      // guarded by write_mu
  // Guarded by the engine's mu_:
  std::map<std::string, Unanswered> unanswered;
  int64_t tracks_taken = 0;
  // Holds: a Dispatch between taking tracks and writing them, a Close under
  // way. A held stream is neither half-closed by another nor freed.
  int writers = 0;
  bool closing = false;  // takes no more tracks
  bool close_requested = false;
  bool ended = false;   // the call is over; unanswered tracks moved on
  bool exited = false;  // the reader thread is past its last lock
};

namespace {

// Codes after which the same tracks may well succeed elsewhere: the server
// went away or is going, or refused the stream for now.
bool WorthResending(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:  // ended without answering everything
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return true;
    default:
      return false;
  }
}

}  // namespace

RemoteEngine::RemoteEngine(NioClient* client, RemoteEngineOptions options)
    : client_(client), options_([&] {
        options.window = std::max(1, options.window);
        options.streams = std::max(1, options.streams);
        options.max_attempts = std::max(1, options.max_attempts);
        return options;
      }()) {}

RemoteEngine::~RemoteEngine() {
  std::vector<Stream*> all;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cancelled_ = true;
    for (auto& s : streams_) s->context.TryCancel();
    cv_.notify_all();
    cv_.wait(lock, [&] { return readers_running_ == 0; });
    for (auto& s : streams_) all.push_back(s.get());
  }
  for (Stream* s : all) {
    if (s->reader.joinable()) s->reader.join();
  }
}

absl::Status RemoteEngine::Start(std::function<void(EngineResult)> on_result) {
  on_result_ = std::move(on_result);
  return absl::OkStatus();
}

absl::Status RemoteEngine::Send(const std::vector<models::RawTrack>& tracks,
                                const models::NioOptions& options) {
  if (tracks.empty()) return absl::OkStatus();
  const int64_t n = static_cast<int64_t>(tracks.size());
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] {
      return !failure_.ok() || in_flight_ + n <= options_.window ||
             in_flight_ == 0;
    });
    if (!failure_.ok()) return failure_;
    in_flight_ += n;
    largest_send_ = std::max(largest_send_, tracks.size());
  }
  auto shared = std::make_shared<const models::NioOptions>(options);
  Batch batch;
  batch.reserve(tracks.size());
  for (const auto& t : tracks) batch.push_back({t.id, {t, shared, 0}});
  Dispatch(std::move(batch), nullptr);
  return absl::OkStatus();
}

RemoteEngine::Stream* RemoteEngine::PickStreamLocked(const Stream* exclude) {
  Stream* best = nullptr;
  int open = 0;
  for (auto& s : streams_) {
    if (s->ended || s->closing || s.get() == exclude) continue;
    ++open;
    if (best == nullptr || s->unanswered.size() < best->unanswered.size())
      best = s.get();
  }
  return open < options_.streams ? nullptr : best;
}

void RemoteEngine::Dispatch(Batch batch, const Stream* exclude) {
  if (batch.empty()) return;
  nio::v1::OptimizeStreamRequest req;
  // Puts the batch in `s`'s unanswered set, under mu_. From here until
  // `writers` drops again, `s` is not freed.
  auto take = [&](Stream* s) {
    const int64_t n = static_cast<int64_t>(batch.size());
    service::ToProto(*batch.front().second.options, req.mutable_options());
    for (auto& [id, u] : batch) {
      ++u.attempts;
      service::ToProto(u.track, req.add_tracks());
      s->unanswered.emplace(id, std::move(u));
    }
    s->tracks_taken += n;
    if (finishing_ || (options_.tracks_per_stream > 0 &&
                       s->tracks_taken >= options_.tracks_per_stream)) {
      s->closing = true;
    }
    ++s->writers;
  };
  // Readers that have exited are joined here, so a long job does not keep
  // one finished thread per replaced stream.
  std::vector<std::unique_ptr<Stream>> exited;
  Stream* s = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok() || cancelled_) {
      in_flight_ -= static_cast<int64_t>(batch.size());
      cv_.notify_all();
      return;
    }
    for (auto it = streams_.begin(); it != streams_.end();) {
      if ((*it)->exited && (*it)->writers == 0) {
        exited.push_back(std::move(*it));
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
    s = PickStreamLocked(exclude);
    if (s != nullptr) take(s);
  }
  for (auto& e : exited) e->reader.join();
  if (s == nullptr) {
    // Opening a call may wait for a connection: not under mu_.
    auto fresh = std::make_unique<Stream>();
    client_->Prepare(&fresh->context);
    fresh->call = client_->stub()->OptimizeStream(&fresh->context);
    std::lock_guard<std::mutex> lock(mu_);
    s = fresh.get();
    streams_.push_back(std::move(fresh));
    ++opened_;
    ++readers_running_;
    // A job that failed or was cancelled meanwhile: the reader ends the
    // call and drops the batch (Ended).
    if (cancelled_) s->context.TryCancel();
    s->reader = std::thread([this, s] { ReadLoop(s); });
    take(s);
  }
  {
    std::lock_guard<std::mutex> write_lock(s->write_mu);
    // A stream that failed meanwhile: its reader sends these again.
    if (!s->finished && !s->write_closed) (void)s->call->Write(req);
  }
  bool close_after = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The last writer of a closing stream half-closes it (none registers
    // once it is closing).
    close_after = s->closing && s->writers == 1 && !s->close_requested;
    if (close_after) s->close_requested = true;
  }
  if (close_after) Close(s);
  std::lock_guard<std::mutex> lock(mu_);
  --s->writers;
}

void RemoteEngine::Close(Stream* stream) {
  std::lock_guard<std::mutex> write_lock(stream->write_mu);
  if (stream->finished || stream->write_closed) return;
  stream->write_closed = true;
  (void)stream->call->WritesDone();
}

void RemoteEngine::Deliver(EngineResult result) {
  on_result_(std::move(result));
  std::lock_guard<std::mutex> lock(mu_);
  --in_flight_;
  cv_.notify_all();
}

void RemoteEngine::ReadLoop(Stream* s) {
  nio::v1::OptimizeStreamResponse resp;
  while (s->call->Read(&resp)) {
    if (!resp.has_result()) continue;
    EngineResult r;
    r.id = resp.result().id();
    r.outcome.status = FromTrackStatus(resp.result().status());
    if (r.outcome.status.ok())
      r.outcome.result = service::FromProto(resp.result());
    Batch again;
    bool close_now = false;
    bool first_refusal = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = s->unanswered.find(r.id);
      if (it == s->unanswered.end()) continue;  // not ours to answer
      // UNAVAILABLE for one track: this server is draining or its backend
      // broke. The track goes elsewhere and this stream takes no more.
      if (r.outcome.status.code() == absl::StatusCode::kUnavailable &&
          it->second.attempts < options_.max_attempts && !cancelled_) {
        again.push_back({it->first, std::move(it->second)});
        ++resent_;
        first_refusal = !s->closing;
        s->closing = true;
        close_now = s->writers == 0 && !s->close_requested;
        if (close_now) s->close_requested = true;
      }
      s->unanswered.erase(it);
    }
    if (close_now) Close(s);
    if (first_refusal && options_.note) {
      options_.note(absl::StrCat(
          "a server at ", client_->address(), " answered a track ",
          r.outcome.status.ToString(),
          ": its stream takes no more tracks; such tracks are sent again"));
    }
    if (again.empty()) {
      Deliver(std::move(r));
    } else {
      Dispatch(std::move(again), s);
    }
  }
  grpc::Status status;
  {
    std::lock_guard<std::mutex> write_lock(s->write_mu);
    status = s->call->Finish();
    s->finished = true;
  }
  Ended(s, status);
}

void RemoteEngine::Ended(Stream* s, const grpc::Status& status) {
  // The tracks to send again, one message per options and at most the
  // largest message the job sent.
  std::vector<Batch> again;
  int attempts = 0;
  int64_t resending = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s->ended = true;
    if (!s->unanswered.empty()) {
      const bool resend = WorthResending(status) && !cancelled_;
      std::map<const models::NioOptions*, Batch> by_options;
      int64_t dropped = 0;
      for (auto& [id, u] : s->unanswered) {
        if (resend && u.attempts < options_.max_attempts) {
          attempts = std::max(attempts, u.attempts);
          by_options[u.options.get()].push_back({id, std::move(u)});
        } else {
          ++dropped;
        }
      }
      s->unanswered.clear();
      for (auto& [options, batch] : by_options) {
        resending += static_cast<int64_t>(batch.size());
        for (size_t i = 0; i < batch.size(); i += largest_send_) {
          const size_t end = std::min(batch.size(), i + largest_send_);
          again.emplace_back(std::make_move_iterator(batch.begin() + i),
                             std::make_move_iterator(batch.begin() + end));
        }
      }
      resent_ += resending;
      if (dropped > 0) {
        in_flight_ -= dropped;
        if (failure_.ok()) {
          const absl::Status cause = FromGrpcStatus(status);
          failure_ =
              resend || cancelled_
                  ? absl::UnavailableError(absl::StrCat(
                        "no server at ", client_->address(), " answered ",
                        dropped, " tracks after ", options_.max_attempts,
                        " attempts: ", cause.message()))
                  : cause;
          if (failure_.ok()) {
            failure_ = absl::InternalError(
                absl::StrCat("a stream to ", client_->address(), " ended with ",
                             dropped, " tracks unanswered"));
          }
        }
        cv_.notify_all();
      }
    }
  }
  if (!again.empty()) {
    if (options_.note) {
      options_.note(absl::StrCat("a stream to ", client_->address(), " ended (",
                                 FromGrpcStatus(status).ToString(), ") with ",
                                 resending,
                                 " tracks unanswered: sent again, attempt ",
                                 attempts + 1, " of ", options_.max_attempts));
    }
    // A broken stream is likely its server gone: give the channel time to
    // notice before picking again.
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, options_.backoff * (1 << std::min(attempts - 1, 6)),
                 [&] { return cancelled_; });
  }
  for (auto& batch : again) Dispatch(std::move(batch), s);
  std::lock_guard<std::mutex> lock(mu_);
  --readers_running_;
  s->exited = true;
  cv_.notify_all();
}

absl::Status RemoteEngine::Finish() {
  std::vector<Stream*> to_close;
  {
    std::lock_guard<std::mutex> lock(mu_);
    finishing_ = true;
    for (auto& s : streams_) {
      if (s->ended) continue;
      s->closing = true;
      if (s->writers == 0 && !s->close_requested) {
        s->close_requested = true;
        ++s->writers;  // keeps it until closed
        to_close.push_back(s.get());
      }
    }
  }
  for (Stream* s : to_close) {
    Close(s);
    std::lock_guard<std::mutex> lock(mu_);
    --s->writers;
  }
  std::vector<Stream*> all;
  absl::Status result;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return readers_running_ == 0; });
    for (auto& s : streams_) all.push_back(s.get());
    result = failure_;
  }
  for (Stream* s : all) {
    if (s->reader.joinable()) s->reader.join();
  }
  return result;
}

std::string RemoteEngine::Describe() const {
  return "server " + client_->address();
}

int64_t RemoteEngine::streams_opened() const {
  std::lock_guard<std::mutex> lock(mu_);
  return opened_;
}

int64_t RemoteEngine::tracks_resent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resent_;
}

}  // namespace nio::client
