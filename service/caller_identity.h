// Who a call's tracks belong to, for the scheduler's fair share: the gRPC
// peer, or for calls the HTTP gateway makes on behalf of its clients, the
// HTTP client. The gateway proves it is the gateway with a secret made at
// start-up, so no other client can pose as an HTTP client.
#ifndef NIO_SERVICE_CALLER_IDENTITY_H_
#define NIO_SERVICE_CALLER_IDENTITY_H_

#include <grpcpp/grpcpp.h>

#include <string>

namespace nio::service {

inline constexpr char kHttpPeerMetadata[] = "x-nio-http-peer";
inline constexpr char kGatewaySecretMetadata[] = "x-nio-gateway-secret";

// 32 random hex digits.
std::string NewGatewaySecret();

// "http:<address>" when the call carries the gateway's secret (non-empty)
// and names an HTTP client, else the gRPC peer ("ipv4:127.0.0.1:5000").
std::string CallerOf(const grpc::CallbackServerContext& context,
                     const std::string& gateway_secret);

}  // namespace nio::service

#endif  // NIO_SERVICE_CALLER_IDENTITY_H_
