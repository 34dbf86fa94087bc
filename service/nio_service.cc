#include "service/nio_service.h"

#include <memory>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "service/caller_identity.h"
#include "service/optimize_call.h"
#include "service/optimize_stream.h"
#include "service/proto_convert.h"
#include "service/status_util.h"
#include "service/track_predictor.h"

namespace nio::service {

NioService::NioService(const models::Model& model, Scheduler* scheduler,
                       const NioServiceOptions& options, CallMetrics* metrics)
    : model_(model),
      scheduler_(scheduler),
      options_(options),
      metrics_(metrics),
      ledger_(options.limits) {
  policy_.gateway_secret = options.gateway_secret;
  policy_.tokens = options.tokens;
  resources_.scheduler = scheduler;
  resources_.limits = options.limits;
  resources_.interactive_max_tracks = options.interactive_max_tracks;
  resources_.stream_window = options.stream_window;
  resources_.ledger = &ledger_;
  resources_.metrics = metrics;
}

namespace {

// Finishes a unary call refused before it started.
grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                 CallTimer& timer, const absl::Status& status) {
  timer.Done(status.code());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Refuses streams before they read anything.
class RefusedStream final
    : public grpc::ServerBidiReactor<nio::v1::OptimizeStreamRequest,
                                     nio::v1::OptimizeStreamResponse> {
 public:
  RefusedStream(const absl::Status& status, CallMetrics* metrics) {
    CallTimer(metrics, "OptimizeStream").Done(status.code());
    Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* NioService::GetModel(
    grpc::CallbackServerContext* context, const nio::v1::GetModelRequest*,
    nio::v1::ModelInfo* response) {
  CallTimer timer(metrics_, "GetModel");
  auto caller = IdentifyCaller(*context, policy_);
  if (!caller.ok()) return Refuse(context, timer, caller.status());
  timer.SetCaller(caller->label);
  ToProto(model_.spec, scheduler_->BackendDescription(), scheduler_->MaxBatch(),
          response);
  timer.Done(absl::StatusCode::kOk);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* NioService::Predict(
    grpc::CallbackServerContext* context,
    const nio::v1::PredictRequest* request,
    nio::v1::PredictResponse* response) {
  auto timer = std::make_shared<CallTimer>(metrics_, "Predict");
  auto caller = IdentifyCaller(*context, policy_);
  if (!caller.ok()) return Refuse(context, *timer, caller.status());
  timer->SetCaller(caller->label);
  if (request->tracks().empty()) {
    return Refuse(
        context, *timer,
        absl::InvalidArgumentError("tracks: the request has no tracks"));
  }
  if (absl::Status s = CheckTrackCount(request->tracks_size(), options_.limits);
      !s.ok()) {
    return Refuse(context, *timer, s);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::vector<models::RawTrack> tracks;
  tracks.reserve(request->tracks_size());
  for (const nio::v1::Track& t : request->tracks())
    tracks.push_back(FromProto(t));
  PredictTracks(
      *scheduler_, tracks,
      [reactor, request, response, timer](TrackPredictions out) {
        absl::Status first_error;
        bool any_ok = false;
        for (size_t i = 0; i < out.size(); ++i) {
          nio::v1::Prediction* p = response->add_predictions();
          p->set_id(request->tracks(static_cast<int>(i)).id());
          if (out[i].ok()) {
            any_ok = true;
            p->set_prediction(*out[i]);
          } else {
            SetTrackStatus(out[i].status(), p->mutable_status());
            if (first_error.ok()) first_error = out[i].status();
          }
        }
        if (!any_ok) response->clear_predictions();
        timer->Done(any_ok ? absl::StatusCode::kOk : first_error.code());
        reactor->Finish(any_ok ? grpc::Status::OK : ToGrpcStatus(first_error));
      });
  return reactor;
}

grpc::ServerUnaryReactor* NioService::Optimize(
    grpc::CallbackServerContext* context,
    const nio::v1::OptimizeRequest* request,
    nio::v1::OptimizeResponse* response) {
  auto caller = IdentifyCaller(*context, policy_);
  if (!caller.ok()) {
    CallTimer timer(metrics_, "Optimize");
    return Refuse(context, timer, caller.status());
  }
  return new OptimizeCall(&resources_, context, request, response,
                          std::move(*caller));
}

grpc::ServerBidiReactor<nio::v1::OptimizeStreamRequest,
                        nio::v1::OptimizeStreamResponse>*
NioService::OptimizeStream(grpc::CallbackServerContext* context) {
  auto caller = IdentifyCaller(*context, policy_);
  if (!caller.ok()) return new RefusedStream(caller.status(), metrics_);
  std::string share_key = StreamShareKey(*caller, streams_started_++);
  return new service::OptimizeStream(&resources_, context, std::move(*caller),
                                     std::move(share_key));
}

}  // namespace nio::service
