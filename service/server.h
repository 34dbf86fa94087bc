// NioServer: the model, its scheduler and the gRPC server around NioService,
// with the grpc.health.v1 health service and server reflection, and the HTTP
// port (HttpGateway) beside it. Used by the nio-server main and, in-process,
// by tests.
#ifndef NIO_SERVICE_SERVER_H_
#define NIO_SERVICE_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "models/model.h"
#include "service/call_metrics.h"
#include "service/http_gateway.h"
#include "service/nio_service.h"
#include "service/scheduler.h"
#include "service/tls_credentials.h"

namespace nio::service {

struct ServerOptions {
  std::string model_dir;                   // empty: the bundled model
  std::string listen = "127.0.0.1:50051";  // port 0 picks a free port
  // Read once at start: a new certificate takes a restart.
  TlsFiles tls;
  // One `name token [interactive|batch]` per line (auth_tokens.h); empty:
  // no token is asked for.
  std::string auth_tokens_file;
  // The largest gRPC message the server reads (answers are not limited).
  int max_message_bytes = 64 << 20;
  // A client connection gets GOAWAY after this long (its calls finish on
  // it), so that clients re-resolve and spread over new replicas; 0: never.
  int max_connection_age_s = 300;
  // http.listen empty (the default here; nio-server's flag defaults to
  // 127.0.0.1:8080): no HTTP port.
  HttpOptions http;
  SchedulerOptions scheduler;
  NioServiceOptions service;
};

class NioServer {
 public:
  // Loads the model, starts the scheduler and listens. INVALID_ARGUMENT /
  // NOT_FOUND for a bad model, FAILED_PRECONDITION for --backend cuda without
  // a device, UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<NioServer>> Start(
      const ServerOptions& options);
  ~NioServer();

  // The bound port (useful with port 0).
  int port() const { return port_; }
  std::string address() const;
  // The HTTP port; 0 without one.
  int http_port() const { return http_ ? http_->port() : 0; }
  // Whether the server takes work: what grpc.health.v1, /readyz and the
  // nio_ready metric say. False once draining or the backend broke.
  bool ready() const { return ready_.load(); }
  // The /metrics page now.
  std::string MetricsText() const;
  // The one start-up line: model, version, backend, threads, address.
  const std::string& start_line() const { return start_line_; }
  Scheduler& scheduler() { return *scheduler_; }
  const models::Model& model() const { return *model_; }

  // Drains: health goes NOT_SERVING, new calls are refused, in-flight calls
  // get until `timeout` to finish, then are cancelled. Idempotent.
  // The HTTP port keeps answering health and metrics until the drain ends.
  void Shutdown(std::chrono::milliseconds timeout);
  // Blocks until Shutdown completes.
  void Wait();

 private:
  NioServer() = default;
  void SetServing(bool serving);

  std::unique_ptr<models::Model> model_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<NioService> service_;
  std::unique_ptr<grpc::Server> server_;
  CallMetrics call_metrics_;
  std::unique_ptr<HttpGateway> http_;
  std::unique_ptr<TokenTable> tokens_;
  // The gateway reaches the service over a Unix socket in a directory
  // only this user can enter (so it needs neither TLS nor a client
  // certificate to its own port); removed at destruction.
  std::string gateway_socket_dir_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
  ServerOptions options_;
  std::string host_;
  int port_ = 0;
  std::string start_line_;
  bool shut_down_ = false;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_SERVER_H_
