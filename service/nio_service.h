// NioService: the gRPC service (callback API). It only translates: requests
// become scheduler jobs through the call reactors, results become responses,
// statuses are mapped by status_util.h. No math and no locking here.
#ifndef NIO_SERVICE_NIO_SERVICE_H_
#define NIO_SERVICE_NIO_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>

#include "models/model.h"
#include "nio/v1/nio.grpc.pb.h"
#include "service/auth_tokens.h"
#include "service/call_metrics.h"
#include "service/call_resources.h"
#include "service/caller_identity.h"
#include "service/caller_ledger.h"
#include "service/request_limits.h"
#include "service/scheduler.h"

namespace nio::service {

struct NioServiceOptions {
  // OptimizeStream stops reading while this many of a stream's tracks are in
  // flight.
  int stream_window = 4096;
  // The most tracks one request (or stream message) may run in the
  // interactive block; unary requests beyond it run as batch work unless
  // they claim PRIORITY_INTERACTIVE (then INVALID_ARGUMENT).
  int interactive_max_tracks = 16;
  // Calls that carry it come from the HTTP gateway, and share work under
  // the HTTP client they name (caller_identity.h); empty: none do.
  std::string gateway_secret;
  // Not owned, must outlive the service; null: calls need no token.
  const TokenTable* tokens = nullptr;
  RequestLimits limits;
};

class NioService final : public nio::v1::Nio::CallbackService {
 public:
  // model, scheduler and metrics: not owned, must outlive the service;
  // metrics may be null (nothing is recorded). Every call first identifies
  // its caller (UNAUTHENTICATED without a valid token when tokens are set).
  NioService(const models::Model& model, Scheduler* scheduler,
             const NioServiceOptions& options = {},
             CallMetrics* metrics = nullptr);

  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const nio::v1::GetModelRequest* request,
                                     nio::v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* Predict(
      grpc::CallbackServerContext* context,
      const nio::v1::PredictRequest* request,
      nio::v1::PredictResponse* response) override;
  grpc::ServerUnaryReactor* Optimize(
      grpc::CallbackServerContext* context,
      const nio::v1::OptimizeRequest* request,
      nio::v1::OptimizeResponse* response) override;
  grpc::ServerBidiReactor<nio::v1::OptimizeStreamRequest,
                          nio::v1::OptimizeStreamResponse>*
  OptimizeStream(grpc::CallbackServerContext* context) override;

  // Steps held and streams open now, by caller label (for /metrics).
  std::map<std::string, CallerLedger::Usage> CallerUsage() const {
    return ledger_.UsageByLabel();
  }

 private:
  const models::Model& model_;
  Scheduler* scheduler_;
  const NioServiceOptions options_;
  CallMetrics* metrics_;
  CallerPolicy policy_;
  CallerLedger ledger_;
  CallResources resources_;
  std::atomic<int64_t> streams_started_{0};  // names each stream's share
};

}  // namespace nio::service

#endif  // NIO_SERVICE_NIO_SERVICE_H_
