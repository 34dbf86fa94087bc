#include "client/session.h"

#include "client/local_engine.h"
#include "client/remote_engine.h"
#include "kernels/status_macros.h"
#include "service/proto_convert.h"

namespace nio::client {

absl::StatusOr<std::unique_ptr<Session>> Session::Remote(
    const std::string& address, const ConnectOptions& connect) {
  std::unique_ptr<Session> s(new Session());
  NIO_ASSIGN_OR_RETURN(s->client_, NioClient::Connect(address, connect));
  return s;
}

absl::StatusOr<std::unique_ptr<Session>> Session::Local(
    const LocalOptions& options) {
  std::unique_ptr<Session> s(new Session());
  s->local_ = options;
  const std::string dir =
      options.model_dir.empty() ? models::DefaultModelDir() : options.model_dir;
  NIO_ASSIGN_OR_RETURN(models::Model model, models::LoadModel(dir));
  s->model_ = std::make_unique<models::Model>(std::move(model));
  return s;
}

absl::StatusOr<nio::v1::ModelInfo> Session::GetModel() {
  if (client_) return client_->GetModel();
  nio::v1::ModelInfo info;
  std::string backend = "local (engine starts on first use)";
  if (optimizer_) backend = "local " + optimizer_->BackendDescription();
  service::ToProto(model_->spec, backend, local_.engine.max_batch, &info);
  return info;
}

absl::StatusOr<std::vector<absl::StatusOr<double>>> Session::Predict(
    const std::vector<models::RawTrack>& tracks) {
  if (client_) return client_->Predict(tracks);
  if (!optimizer_) {
    NIO_ASSIGN_OR_RETURN(optimizer_,
                         service::Optimizer::Create(*model_, local_.engine));
  }
  return optimizer_->Predict(tracks);
}

absl::StatusOr<std::vector<models::TrackOutcome>> Session::Optimize(
    const std::vector<models::RawTrack>& tracks,
    const models::NioOptions& options) {
  if (client_) return client_->Optimize(tracks, options);
  if (!optimizer_) {
    NIO_ASSIGN_OR_RETURN(optimizer_,
                         service::Optimizer::Create(*model_, local_.engine));
  }
  std::vector<models::TrackRequest> requests;
  for (const auto& t : tracks) requests.push_back({t, options});
  return optimizer_->Optimize(requests);
}

absl::StatusOr<std::unique_ptr<TrackEngine>> Session::StreamEngine(
    const StreamOptions& options) {
  if (client_) {
    RemoteEngineOptions remote;
    remote.window = options.window;
    remote.streams = options.streams;
    remote.tracks_per_stream = options.tracks_per_stream;
    remote.note = options.note;
    return std::unique_ptr<TrackEngine>(
        new RemoteEngine(client_.get(), remote));
  }
  NIO_ASSIGN_OR_RETURN(
      auto engine, LocalEngine::Create(*model_, local_.engine, options.window));
  return std::unique_ptr<TrackEngine>(std::move(engine));
}

}  // namespace nio::client
