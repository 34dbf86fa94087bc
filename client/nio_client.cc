#include "client/nio_client.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "kernels/status_macros.h"
#include "service/auth_tokens.h"
#include "service/flag_file.h"
#include "service/proto_convert.h"
#include "service/status_util.h"

namespace nio::client {

using service::FromGrpcStatus;
using service::FromTrackStatus;

absl::Status CheckServerAddress(const std::string& address) {
  // Targets with a scheme are gRPC's to parse.
  if (absl::StrContains(address, ":///") ||
      absl::StartsWith(address, "unix:") ||
      absl::StartsWith(address, "ipv4:") ||
      absl::StartsWith(address, "ipv6:")) {
    return absl::OkStatus();
  }
  const size_t colon = address.rfind(':');
  const std::string host =
      colon == std::string::npos ? "" : address.substr(0, colon);
  const std::string port =
      colon == std::string::npos ? "" : address.substr(colon + 1);
  int port_number = 0;
  const bool port_ok =
      !port.empty() && port.size() <= 5 &&
      port.find_first_not_of("0123456789") == std::string::npos &&
      absl::SimpleAtoi(port, &port_number) && port_number >= 1 &&
      port_number <= 65535;
  const bool bracketed =
      absl::StartsWith(host, "[") && absl::EndsWith(host, "]");
  const bool host_ok =
      !host.empty() &&
      (bracketed || host.find_first_of(":/ []") == std::string::npos);
  if (port_ok && host_ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("bad address '", address,
                   "': expected host:port with a port in 1..65535, e.g. ",
                   "127.0.0.1:50051 (--server or $NIO_SERVER)"));
}

namespace {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(
    const ConnectOptions& o) {
  if (o.tls_ca_file.empty()) {
    if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_cert/--tls_key need --tls_ca (the CA of the server's "
          "certificate)");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  grpc::SslCredentialsOptions ssl;
  NIO_ASSIGN_OR_RETURN(ssl.pem_root_certs,
                       service::ReadFlagFile(o.tls_ca_file, "--tls_ca"));
  if (!o.tls_cert_file.empty()) {
    NIO_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                         service::ReadFlagFile(o.tls_cert_file, "--tls_cert"));
    NIO_ASSIGN_OR_RETURN(ssl.pem_private_key,
                         service::ReadFlagFile(o.tls_key_file, "--tls_key"));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  NIO_ASSIGN_OR_RETURN(std::string text,
                       service::ReadFlagFile(path, "--token_file"));
  std::string token(
      absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token_file: '", path, "' has no token"));
  }
  if (!service::ValidTokenText(token)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token_file: '", path,
                     "' holds a token with characters no token has "
                     "(printable ASCII without spaces only)"));
  }
  return token;
}

absl::StatusOr<std::string> ServiceConfigJson(const std::string& lb) {
  if (lb != "pick_first" && lb != "round_robin") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--lb: '", lb, "' is not a policy: pick_first or round_robin"));
  }
  // Stream calls are not retried here: RemoteEngine sends a broken
  // stream's tracks again itself.
  return absl::StrCat(
      R"({"loadBalancingConfig":[{")", lb, R"(":{}}],)",
      R"("methodConfig":[{"name":[)",
      R"({"service":"nio.v1.Nio","method":"GetModel"},)",
      R"({"service":"nio.v1.Nio","method":"Predict"},)",
      R"({"service":"nio.v1.Nio","method":"Optimize"},)",
      R"({"service":"grpc.health.v1.Health","method":"Check"}],)",
      R"("retryPolicy":{"maxAttempts":4,"initialBackoff":"0.1s",)",
      R"("maxBackoff":"1s","backoffMultiplier":2,)",
      R"("retryableStatusCodes":["UNAVAILABLE"]}}]})");
}

absl::StatusOr<std::unique_ptr<NioClient>> NioClient::Connect(
    const std::string& address, const ConnectOptions& options) {
  if (absl::Status s = CheckServerAddress(address); !s.ok()) return s;
  NIO_ASSIGN_OR_RETURN(auto credentials, Credentials(options));
  NIO_ASSIGN_OR_RETURN(const std::string service_config,
                       ServiceConfigJson(options.lb));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetServiceConfigJSON(service_config);
  if (options.keepalive.count() > 0) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                static_cast<int>(
                    std::min<int64_t>(options.keepalive.count(), INT32_MAX)));
    args.SetInt(
        GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
        static_cast<int>(std::min<int64_t>(options.keepalive.count(), 10000)));
    // A stalled server sends nothing: keep pinging all the same.
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  auto channel = grpc::CreateCustomChannel(address, credentials, args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 options.connect_timeout)) {
    return absl::UnavailableError(absl::StrCat(
        "no NIO server answers at ", address,
        options.tls_ca_file.empty()
            ? " (is nio-server running? --server sets the address; a server "
              "with --tls_cert needs --tls_ca)"
            : " over TLS (is nio-server running with --tls_cert? does "
              "--tls_ca hold the CA that signed it, and does its certificate "
              "name this host? mutual TLS needs --tls_cert/--tls_key)"));
  }
  return std::unique_ptr<NioClient>(
      new NioClient(address, std::move(channel), options.token));
}

NioClient::NioClient(std::string address,
                     std::shared_ptr<grpc::Channel> channel, std::string token)
    : address_(std::move(address)),
      token_(std::move(token)),
      channel_(std::move(channel)),
      stub_(nio::v1::Nio::NewStub(channel_)) {}

void NioClient::Prepare(grpc::ClientContext* context) const {
  if (!token_.empty())
    context->AddMetadata("authorization", "Bearer " + token_);
}

absl::StatusOr<nio::v1::ModelInfo> NioClient::GetModel() {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  nio::v1::ModelInfo info;
  grpc::Status s = stub_->GetModel(&ctx, {}, &info);
  if (!s.ok()) return FromGrpcStatus(s);
  return info;
}

absl::StatusOr<std::string> NioClient::Health(
    const std::string& service, std::chrono::milliseconds timeout) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  Prepare(&ctx);
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::NotFoundError(absl::StrCat("health: the server at ", address_,
                                            " serves no service '", service,
                                            "'"));
  }
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(
        absl::StrCat("health: the server at ", address_,
                     " did not answer within ", timeout.count(), " ms"));
  }
  if (!s.ok()) return FromGrpcStatus(s);
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
      resp.status());
}

absl::StatusOr<std::vector<absl::StatusOr<double>>> NioClient::Predict(
    const std::vector<models::RawTrack>& tracks) {
  nio::v1::PredictRequest req;
  for (const auto& t : tracks) service::ToProto(t, req.add_tracks());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  nio::v1::PredictResponse resp;
  grpc::Status s = stub_->Predict(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  std::vector<absl::StatusOr<double>> out;
  for (const auto& p : resp.predictions()) {
    absl::Status st = FromTrackStatus(p.status());
    out.push_back(st.ok() ? absl::StatusOr<double>(p.prediction())
                          : absl::StatusOr<double>(st));
  }
  return out;
}

absl::StatusOr<std::vector<models::TrackOutcome>> NioClient::Optimize(
    const std::vector<models::RawTrack>& tracks,
    const models::NioOptions& options, std::chrono::milliseconds timeout) {
  nio::v1::OptimizeRequest req;
  for (const auto& t : tracks) service::ToProto(t, req.add_tracks());
  service::ToProto(options, req.mutable_options());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  if (timeout.count() > 0)
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  nio::v1::OptimizeResponse resp;
  grpc::Status s = stub_->Optimize(&ctx, req, &resp);
  if (!s.ok()) return FromGrpcStatus(s);
  std::vector<models::TrackOutcome> out;
  for (const auto& r : resp.results()) {
    models::TrackOutcome o;
    o.status = FromTrackStatus(r.status());
    if (o.status.ok()) o.result = service::FromProto(r);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace nio::client
