// HttpGateway: the HTTP port of nio-server. It serves the nio.v1 API as
// JSON (proto3 JSON mapping) by calling the gRPC service over the server's
// own gRPC port on loopback, so an HTTP answer is the gRPC answer for the
// same request; plus /healthz, /readyz, /metrics and the web page.
//
//   GET  /v1/model            ModelInfo
//   POST /v1/predict          PredictRequest -> PredictResponse
//   POST /v1/optimize         OptimizeRequest -> OptimizeResponse
//   POST /v1/optimize/stream  OptimizeStreamRequest (one object, or one per
//                             line) -> newline-delimited OptimizeStreamResponse
//                             events as they happen; a failure after the
//                             first event is a last line {"error": {...}}
//   GET  /healthz /readyz /metrics, and / with its assets
//
// Errors: the gRPC code mapped as grpc-gateway maps it (http_errors.h); a
// known route with the wrong method is 405. The API's Authorization header
// goes to the service as the call's token; /metrics is open, loopback-only
// or behind a token (HttpOptions::metrics_access); health and the page stay
// open. A grpc-timeout header sets the
// call's deadline. API calls may hold all but kReservedThreads of the
// threads, so health checks and scrapes answer however busy the port is.
#ifndef NIO_SERVICE_HTTP_GATEWAY_H_
#define NIO_SERVICE_HTTP_GATEWAY_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "service/auth_tokens.h"
#include "service/call_metrics.h"

namespace httplib {
class Server;
}

namespace nio::service {

struct HttpOptions {
  std::string listen;  // host:port (port 0 picks one); empty: no HTTP port
  // Requests with a larger body get 413.
  size_t max_body_bytes = 64 << 20;
  // The deadline of unary calls without a grpc-timeout header; streams
  // have none (a closed connection cancels them).
  double default_timeout_s = 300;
  // Seconds a connection may take to send its request.
  int read_timeout_s = 30;
  // Requests served at once (each call blocks its thread until answered).
  int threads = 128;
  static constexpr int kReservedThreads = 8;
  // Who may read /metrics: kToken: a caller with a valid token when the
  // server has tokens, anyone otherwise; kLoopback: clients on loopback;
  // kOpen: anyone.
  enum class MetricsAccess { kToken, kLoopback, kOpen };
  MetricsAccess metrics_access = MetricsAccess::kToken;
  // TLS (https) when cert_file is set: PEM certificate chain and key;
  // client_ca_file set: clients must show a certificate it signed.
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
};

// --metrics_access: "token", "loopback" or "open"; INVALID_ARGUMENT naming
// the flag.
absl::StatusOr<HttpOptions::MetricsAccess> ParseMetricsAccess(
    const std::string& text);

// host and port of an --http_listen value; INVALID_ARGUMENT naming the flag.
absl::StatusOr<std::pair<std::string, int>> ParseHttpListen(
    const std::string& listen);

class HttpGateway {
 public:
  struct Sources {
    std::shared_ptr<grpc::Channel> channel;  // to the gRPC service
    std::string gateway_secret;              // NioServiceOptions' secret
    std::function<bool()> ready;             // /readyz
    std::function<bool()> draining;          // new API calls get 503
    std::function<std::string()> metrics;    // /metrics page
    CallMetrics* call_metrics = nullptr;     // records HTTP requests
    const TokenTable* tokens = nullptr;      // null: the server has none
  };
  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpGateway>> Start(
      const HttpOptions& options, Sources sources);
  ~HttpGateway();

  int port() const { return port_; }
  // "http://host:port"
  std::string url() const;
  // Stops listening and waits for the requests being served. Idempotent.
  void Stop();

 private:
  HttpGateway(const HttpOptions& options, Sources sources);
  void AddRoutes();

  const HttpOptions options_;
  Sources sources_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<int> api_in_flight_{0};
  std::string host_;
  int port_ = 0;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_HTTP_GATEWAY_H_
