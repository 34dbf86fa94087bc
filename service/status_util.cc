#include "service/status_util.h"

#include <string>

namespace nio::service {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

bool IsMessageSizeError(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
         status.error_message().find("message larger than max") !=
             std::string::npos;
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (IsMessageSizeError(status)) {
    message +=
        ": a gRPC message over the server's --max_message_bytes (or the "
        "client's receive limit); send catalogs through OptimizeStream "
        "(nio batch) in smaller messages";
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      message);
}

void SetTrackStatus(const absl::Status& status, nio::v1::TrackStatus* out) {
  out->set_code(static_cast<int>(status.code()));
  out->set_message(std::string(status.message()));
}

absl::Status FromTrackStatus(const nio::v1::TrackStatus& status) {
  if (status.code() == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.code()),
                      status.message());
}

}  // namespace nio::service
