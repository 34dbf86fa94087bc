// NioClient: the C++ client library of the NIO service (nio.v1.Nio over
// gRPC). Thin, synchronous, Status-returning wrappers (RemoteEngine, in
// remote_engine.h, streams many tracks).
#ifndef NIO_CLIENT_NIO_CLIENT_H_
#define NIO_CLIENT_NIO_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/nio_problem.h"
#include "nio/v1/nio.grpc.pb.h"

namespace nio::client {

// OK for a server address gRPC can dial: host:port (port 1..65535, an IPv6
// host in brackets) or a gRPC target URI (dns:///..., unix:...).
// INVALID_ARGUMENT "bad address ..." otherwise: a typo is refused at once
// rather than after the connect timeout.
absl::Status CheckServerAddress(const std::string& address);

// How to reach a server that has TLS or tokens (nio-server --tls_cert,
// --auth_tokens).
struct ConnectOptions {
  // PEM CA that signed the server's certificate: TLS when set.
  std::string tls_ca_file;
  // PEM client certificate and key, for a server with --tls_client_ca.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Sent as `authorization: Bearer TOKEN` with every call; empty: none.
  std::string token;
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
  // gRPC's load-balancing policy over the addresses the target resolves to:
  // "pick_first" or "round_robin".
  std::string lb = "pick_first";
  // While calls are open the client pings the server this often, and a
  // connection whose ping is not answered within min(keepalive, 10 s) is
  // dead: its calls fail UNAVAILABLE (a batch sends their tracks again), so
  // a server that hangs cannot stall a job. 0: no pings.
  std::chrono::milliseconds keepalive = std::chrono::seconds(20);
};

// The channel's service config: `lb`, and retries of the calls that are
// safe to repeat (GetModel, Predict, Optimize, health Check: the same
// request gives the same answer) on UNAVAILABLE, up to 4 attempts.
// INVALID_ARGUMENT for an unknown policy.
absl::StatusOr<std::string> ServiceConfigJson(const std::string& lb);

// The token in a --token_file: its first line, trimmed; INVALID_ARGUMENT
// naming the file when it cannot be read or is empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

class NioClient {
 public:
  // Connects (waits up to options.connect_timeout for the channel).
  // INVALID_ARGUMENT for a malformed address (CheckServerAddress) or TLS
  // files that cannot be read; UNAVAILABLE when nothing answers at
  // `address` (or the TLS handshake fails).
  static absl::StatusOr<std::unique_ptr<NioClient>> Connect(
      const std::string& address, const ConnectOptions& options = {});

  // Adds what every call carries (the token) to a new call's context.
  void Prepare(grpc::ClientContext* context) const;

  absl::StatusOr<nio::v1::ModelInfo> GetModel();
  // The server's health by gRPC's health protocol: "SERVING",
  // "NOT_SERVING" (a broken backend, a drain) or "UNKNOWN", of the whole
  // server when `service` is empty. UNAVAILABLE when no answer comes within
  // `timeout`; NOT_FOUND for a service the server does not serve.
  absl::StatusOr<std::string> Health(const std::string& service,
                                     std::chrono::milliseconds timeout);
  // One prediction (or per-track error) per track, in order.
  absl::StatusOr<std::vector<absl::StatusOr<double>>> Predict(
      const std::vector<models::RawTrack>& tracks);
  // Optimizes tracks with shared options; outcomes in order. timeout 0: none.
  absl::StatusOr<std::vector<models::TrackOutcome>> Optimize(
      const std::vector<models::RawTrack>& tracks,
      const models::NioOptions& options,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

  nio::v1::Nio::Stub* stub() { return stub_.get(); }
  const std::string& address() const { return address_; }

 private:
  NioClient(std::string address, std::shared_ptr<grpc::Channel> channel,
            std::string token);
  std::string address_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nio::v1::Nio::Stub> stub_;
};

}  // namespace nio::client

#endif  // NIO_CLIENT_NIO_CLIENT_H_
