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
      metrics_(metrics) {}

grpc::ServerUnaryReactor* NioService::GetModel(
    grpc::CallbackServerContext* context, const nio::v1::GetModelRequest*,
    nio::v1::ModelInfo* response) {
  ToProto(model_.spec, scheduler_->BackendDescription(), scheduler_->MaxBatch(),
          response);
  CallTimer(metrics_, "GetModel").Done(absl::StatusCode::kOk);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* NioService::Predict(
    grpc::CallbackServerContext* context,
    const nio::v1::PredictRequest* request,
    nio::v1::PredictResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto timer = std::make_shared<CallTimer>(metrics_, "Predict");
  if (request->tracks().empty()) {
    timer->Done(absl::StatusCode::kInvalidArgument);
    reactor->Finish(ToGrpcStatus(
        absl::InvalidArgumentError("tracks: the request has no tracks")));
    return reactor;
  }
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
  return new OptimizeCall(
      scheduler_, context, request, response, options_.interactive_max_tracks,
      CallerOf(*context, options_.gateway_secret), metrics_);
}

grpc::ServerBidiReactor<nio::v1::OptimizeStreamRequest,
                        nio::v1::OptimizeStreamResponse>*
NioService::OptimizeStream(grpc::CallbackServerContext* context) {
  // Each stream is its own caller for the batch block's fair share.
  std::string caller = absl::StrCat(CallerOf(*context, options_.gateway_secret),
                                    "/stream-", streams_started_++);
  return new service::OptimizeStream(
      scheduler_, context, options_.stream_window,
      options_.interactive_max_tracks, std::move(caller), metrics_);
}

}  // namespace nio::service
