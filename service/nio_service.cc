#include "service/nio_service.h"

#include <memory>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "service/optimize_call.h"
#include "service/optimize_stream.h"
#include "service/proto_convert.h"
#include "service/status_util.h"

namespace nio::service {

NioService::NioService(const models::Model& model, Scheduler* scheduler,
                       const NioServiceOptions& options)
    : model_(model), scheduler_(scheduler), options_(options) {}

grpc::ServerUnaryReactor* NioService::GetModel(grpc::CallbackServerContext* context,
                                               const nio::v1::GetModelRequest*,
                                               nio::v1::ModelInfo* response) {
  ToProto(model_.spec, scheduler_->BackendDescription(), scheduler_->MaxBatch(), response);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* NioService::Predict(grpc::CallbackServerContext* context,
                                              const nio::v1::PredictRequest* request,
                                              nio::v1::PredictResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (request->tracks().empty()) {
    reactor->Finish(ToGrpcStatus(absl::InvalidArgumentError("tracks: the request has no tracks")));
    return reactor;
  }
  const models::Featurizer& featurizer = scheduler_->featurizer();
  std::vector<float> inputs;
  auto rows = std::make_shared<std::vector<int>>();  // response index per input row
  bool any_ok = false;
  absl::Status first_error;
  for (int i = 0; i < request->tracks().size(); ++i) {
    const nio::v1::Track& t = request->tracks(i);
    nio::v1::Prediction* p = response->add_predictions();
    p->set_id(t.id());
    auto x = featurizer.ToScaled(FromProto(t));
    if (!x.ok()) {
      SetTrackStatus(x.status(), p->mutable_status());
      if (first_error.ok()) first_error = x.status();
      continue;
    }
    any_ok = true;
    inputs.insert(inputs.end(), x->begin(), x->end());
    rows->push_back(i);
  }
  if (!any_ok) {
    reactor->Finish(ToGrpcStatus(first_error));
    return reactor;
  }
  scheduler_->Predict(std::move(inputs), static_cast<int>(rows->size()),
                      [reactor, response, rows](absl::StatusOr<std::vector<float>> out) {
                        if (!out.ok()) {
                          reactor->Finish(ToGrpcStatus(out.status()));
                          return;
                        }
                        for (size_t j = 0; j < rows->size(); ++j) {
                          response->mutable_predictions((*rows)[j])->set_prediction((*out)[j]);
                        }
                        reactor->Finish(grpc::Status::OK);
                      });
  return reactor;
}

grpc::ServerUnaryReactor* NioService::Optimize(grpc::CallbackServerContext* context,
                                               const nio::v1::OptimizeRequest* request,
                                               nio::v1::OptimizeResponse* response) {
  return new OptimizeCall(scheduler_, context, request, response);
}

grpc::ServerBidiReactor<nio::v1::OptimizeStreamRequest, nio::v1::OptimizeStreamResponse>*
NioService::OptimizeStream(grpc::CallbackServerContext* context) {
  return new service::OptimizeStream(scheduler_, context, options_.stream_window);
}

}  // namespace nio::service
