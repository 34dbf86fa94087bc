// NioClient: the C++ client library of the NIO service (nio.v1.Nio over
// gRPC). Thin, synchronous, Status-returning wrappers; RemoteEngine streams
// many tracks with a bounded window.
#ifndef NIO_CLIENT_NIO_CLIENT_H_
#define NIO_CLIENT_NIO_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "client/track_engine.h"
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
};

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

// A TrackEngine over one OptimizeStream call. At most `window` tracks are in
// flight; Send blocks beyond that.
class RemoteEngine final : public TrackEngine {
 public:
  RemoteEngine(NioClient* client, int window);
  ~RemoteEngine() override;
  absl::Status Start(std::function<void(EngineResult)> on_result) override;
  absl::Status Send(const std::vector<models::RawTrack>& tracks,
                    const models::NioOptions& options) override;
  absl::Status Finish() override;
  std::string Describe() const override;

 private:
  void ReadLoop();

  NioClient* client_;
  const int window_;
  std::function<void(EngineResult)> on_result_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<nio::v1::OptimizeStreamRequest,
                                           nio::v1::OptimizeStreamResponse>>
      stream_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;         // guarded by mu_
  bool reader_done_ = false;  // guarded by mu_
  bool finished_ = false;
};

}  // namespace nio::client

#endif  // NIO_CLIENT_NIO_CLIENT_H_
