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

class NioClient {
 public:
  // Connects (waits up to connect_timeout for the channel). INVALID_ARGUMENT
  // for a malformed address (CheckServerAddress); UNAVAILABLE when nothing
  // answers at `address`.
  static absl::StatusOr<std::unique_ptr<NioClient>> Connect(
      const std::string& address,
      std::chrono::milliseconds connect_timeout = std::chrono::seconds(10));

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
  NioClient(std::string address, std::shared_ptr<grpc::Channel> channel);
  std::string address_;
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
