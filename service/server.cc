#include "service/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "kernels/status_macros.h"
#include "nio/v1/nio.grpc.pb.h"
#include "service/caller_identity.h"
#include "service/log.h"
#include "service/service_metrics.h"
#include "service/tls_credentials.h"

namespace nio::service {
namespace {

// A new directory only this user can enter, for the gateway's socket.
absl::StatusOr<std::string> MakeSocketDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(
      tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/nio-server-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot make a directory for the HTTP port's socket under ",
        tmp != nullptr ? tmp : "/tmp", " (set TMPDIR to a writable one)"));
  }
  return pattern;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NioServer>> NioServer::Start(
    const ServerOptions& options) {
  std::unique_ptr<NioServer> s(new NioServer());
  s->options_ = options;
  const std::string dir =
      options.model_dir.empty() ? models::DefaultModelDir() : options.model_dir;
  NIO_ASSIGN_OR_RETURN(models::Model model, models::LoadModel(dir));
  s->model_ = std::make_unique<models::Model>(std::move(model));
  NIO_ASSIGN_OR_RETURN(s->scheduler_,
                       Scheduler::Create(*s->model_, options.scheduler));
  NioServiceOptions service_options = options.service;
  if (!options.auth_tokens_file.empty()) {
    NIO_ASSIGN_OR_RETURN(TokenTable tokens,
                         TokenTable::Load(options.auth_tokens_file));
    s->tokens_ = std::make_unique<TokenTable>(std::move(tokens));
    service_options.tokens = s->tokens_.get();
  }
  const bool with_http = !options.http.listen.empty();
  if (with_http) service_options.gateway_secret = NewGatewaySecret();
  s->service_ = std::make_unique<NioService>(
      *s->model_, s->scheduler_.get(), service_options, &s->call_metrics_);
  NIO_ASSIGN_OR_RETURN(auto credentials, GrpcServerCredentials(options.tls));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &s->port_);
  std::string gateway_target;
  if (with_http) {
    NIO_ASSIGN_OR_RETURN(s->gateway_socket_dir_, MakeSocketDir());
    gateway_target = absl::StrCat("unix:", s->gateway_socket_dir_, "/grpc");
    builder.AddListeningPort(gateway_target, grpc::InsecureServerCredentials());
  }
  builder.RegisterService(s->service_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  // Answers are bounded by --max_tracks_per_request already; refusing one
  // would throw away work done. What a client takes is its own limit.
  builder.SetMaxSendMessageSize(-1);
  // gRPC sets SO_REUSEPORT by default on Linux: a second server on a busy
  // port would start and silently split the traffic with the first.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options.max_connection_age_s > 0) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_MS,
        static_cast<int>(std::min<int64_t>(
            int64_t{options.max_connection_age_s} * 1000, INT32_MAX)));
  }
  // Clients ping busy connections to find a server that hangs (nio's
  // --keepalive_s): never answer a ping with GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    s->scheduler_->Stop();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen,
        ": address in use (another nio-server?) or not available"));
  }
  s->host_ = options.listen.substr(0, options.listen.rfind(':'));
  if (with_http) {
    // Over a socket, not an in-process channel: a drain lets in-flight calls
    // on a socket finish, but closes in-process ones at once.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    HttpGateway::Sources sources;
    sources.channel = grpc::CreateCustomChannel(
        gateway_target, grpc::InsecureChannelCredentials(), args);
    sources.gateway_secret = service_options.gateway_secret;
    sources.tokens = s->tokens_.get();
    NioServer* raw = s.get();
    sources.ready = [raw] { return raw->ready(); };
    sources.draining = [raw] { return raw->draining_.load(); };
    sources.metrics = [raw] { return raw->MetricsText(); };
    sources.call_metrics = &s->call_metrics_;
    HttpOptions http_options = options.http;
    http_options.cert_file = options.tls.cert_file;
    http_options.key_file = options.tls.key_file;
    http_options.client_ca_file = options.tls.client_ca_file;
    auto http = HttpGateway::Start(http_options, std::move(sources));
    if (!http.ok()) {
      s->server_->Shutdown();
      s->scheduler_->Stop();
      return http.status();
    }
    s->http_ = std::move(*http);
  }
  s->SetServing(true);
  // A broken backend answers nothing any more: NOT_SERVING, so an
  // orchestrator restarts the server (health and GetModel still answer).
  NioServer* raw = s.get();
  s->scheduler_->OnBackendBroken(
      [raw](const absl::Status&) { raw->SetServing(false); });
  s->start_line_ = absl::StrCat(
      "nio-server: model ", s->model_->spec.name, " version ",
      s->model_->spec.version, " from ", dir, "; ",
      s->scheduler_->BackendLogLine(), "; max_batch ",
      options.scheduler.max_batch, ", max_queue ", options.scheduler.max_queue,
      "; listening on ", s->address(),
      options.tls.cert_file.empty()        ? " (gRPC)"
      : options.tls.client_ca_file.empty() ? " (gRPC, TLS)"
                                           : " (gRPC, mutual TLS)",
      s->http_ ? absl::StrCat(", ", s->http_->url(), " (HTTP)") : std::string(),
      s->tokens_
          ? absl::StrCat("; ", s->tokens_->size(), " tokens (--auth_tokens)")
          : std::string());
  return s;
}

void NioServer::SetServing(bool serving) {
  ready_.store(serving);
  // The whole server ("") and the NIO service by name, as probes ask.
  server_->GetHealthCheckService()->SetServingStatus(
      nio::v1::Nio::service_full_name(), serving);
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

std::string NioServer::MetricsText() const {
  MetricsInputs in;
  in.calls = &call_metrics_;
  in.stats = scheduler_->Stats();
  in.model_name = model_->spec.name;
  in.model_version = model_->spec.version;
  in.backend = scheduler_->BackendDescription();
  in.batch_slots = options_.scheduler.max_batch;
  in.interactive_slots = options_.scheduler.interactive_slots;
  in.ready = ready();
  in.callers = service_->CallerUsage();
  return RenderMetrics(in);
}

std::string NioServer::address() const {
  return absl::StrCat(host_, ":", port_);
}

void NioServer::Shutdown(std::chrono::milliseconds timeout) {
  if (shut_down_ || !server_) return;
  shut_down_ = true;
  draining_.store(true);
  SetServing(false);
  const auto deadline = std::chrono::system_clock::now() + timeout;
  // gRPC waits for in-flight calls until the deadline, then cancels them; the
  // scheduler keeps stepping meanwhile so they can finish.
  server_->Shutdown(deadline);
  scheduler_->Stop(Clock::now());
  if (http_) http_->Stop();
}

void NioServer::Wait() {
  if (server_) server_->Wait();
}

NioServer::~NioServer() {
  Shutdown(std::chrono::milliseconds(0));
  if (!gateway_socket_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(gateway_socket_dir_, ignored);
  }
}

}  // namespace nio::service
