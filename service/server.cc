#include "service/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "kernels/status_macros.h"
#include "service/caller_identity.h"
#include "service/log.h"
#include "service/service_metrics.h"

namespace nio::service {
namespace {

// Where this process reaches its own gRPC port: a wildcard address through
// loopback, any other as it is.
std::string LoopbackTarget(const std::string& host, int port) {
  std::string h = host;
  if (h.empty() || h == "0.0.0.0" || h == "*") h = "127.0.0.1";
  if (h == "[::]") h = "[::1]";
  return absl::StrCat(h, ":", port);
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
  if (!options.http.listen.empty())
    service_options.gateway_secret = NewGatewaySecret();
  s->service_ = std::make_unique<NioService>(
      *s->model_, s->scheduler_.get(), service_options, &s->call_metrics_);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(),
                           &s->port_);
  builder.RegisterService(s->service_.get());
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  // gRPC sets SO_REUSEPORT by default on Linux: a second server on a busy
  // port would start and silently split the traffic with the first.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) {
    s->scheduler_->Stop();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen,
        ": address in use (another nio-server?) or not available"));
  }
  s->host_ = options.listen.substr(0, options.listen.rfind(':'));
  if (!options.http.listen.empty()) {
    // Over the gRPC port itself, not an in-process channel: a drain lets
    // in-flight calls on a socket finish, but closes in-process ones at once.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    HttpGateway::Sources sources;
    sources.channel =
        grpc::CreateCustomChannel(LoopbackTarget(s->host_, s->port_),
                                  grpc::InsecureChannelCredentials(), args);
    sources.gateway_secret = service_options.gateway_secret;
    NioServer* raw = s.get();
    sources.ready = [raw] { return raw->ready(); };
    sources.draining = [raw] { return raw->draining_.load(); };
    sources.metrics = [raw] { return raw->MetricsText(); };
    sources.call_metrics = &s->call_metrics_;
    auto http = HttpGateway::Start(options.http, std::move(sources));
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
      "; listening on ", s->address(), " (gRPC)",
      s->http_ ? absl::StrCat(", ", s->http_->url(), " (HTTP)")
               : std::string());
  return s;
}

void NioServer::SetServing(bool serving) {
  ready_.store(serving);
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

NioServer::~NioServer() { Shutdown(std::chrono::milliseconds(0)); }

}  // namespace nio::service
