#include "service/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "kernels/status_macros.h"
#include "service/log.h"

namespace nio::service {

absl::StatusOr<std::unique_ptr<NioServer>> NioServer::Start(
    const ServerOptions& options) {
  std::unique_ptr<NioServer> s(new NioServer());
  const std::string dir =
      options.model_dir.empty() ? models::DefaultModelDir() : options.model_dir;
  NIO_ASSIGN_OR_RETURN(models::Model model, models::LoadModel(dir));
  s->model_ = std::make_unique<models::Model>(std::move(model));
  NIO_ASSIGN_OR_RETURN(s->scheduler_,
                       Scheduler::Create(*s->model_, options.scheduler));
  s->service_ = std::make_unique<NioService>(*s->model_, s->scheduler_.get(),
                                             options.service);

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
  s->server_->GetHealthCheckService()->SetServingStatus(true);
  // A broken backend answers nothing any more: NOT_SERVING, so an
  // orchestrator restarts the server (health and GetModel still answer).
  grpc::Server* server = s->server_.get();
  s->scheduler_->OnBackendBroken([server](const absl::Status&) {
    server->GetHealthCheckService()->SetServingStatus(false);
  });
  s->start_line_ = absl::StrCat("nio-server: model ", s->model_->spec.name,
                                " version ", s->model_->spec.version, " from ",
                                dir, "; ", s->scheduler_->BackendLogLine(),
                                "; max_batch ", options.scheduler.max_batch,
                                ", max_queue ", options.scheduler.max_queue,
                                "; listening on ", s->address());
  return s;
}

std::string NioServer::address() const {
  return absl::StrCat(host_, ":", port_);
}

void NioServer::Shutdown(std::chrono::milliseconds timeout) {
  if (shut_down_ || !server_) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  const auto deadline = std::chrono::system_clock::now() + timeout;
  // gRPC waits for in-flight calls until the deadline, then cancels them; the
  // scheduler keeps stepping meanwhile so they can finish.
  server_->Shutdown(deadline);
  scheduler_->Stop(Clock::now());
}

void NioServer::Wait() {
  if (server_) server_->Wait();
}

NioServer::~NioServer() { Shutdown(std::chrono::milliseconds(0)); }

}  // namespace nio::service
