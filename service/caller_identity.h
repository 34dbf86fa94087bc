// Who a call comes from. With --auth_tokens, the holder of the call's bearer
// token (auth_tokens.h); without, the peer: the gRPC client's host, or for
// calls the HTTP gateway makes on behalf of its clients, the HTTP client's.
// The gateway proves it is the gateway with a secret made at start-up, so no
// other client can pose as an HTTP client.
#ifndef NIO_SERVICE_CALLER_IDENTITY_H_
#define NIO_SERVICE_CALLER_IDENTITY_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "service/auth_tokens.h"

namespace nio::service {

inline constexpr char kHttpPeerMetadata[] = "x-nio-http-peer";
inline constexpr char kGatewaySecretMetadata[] = "x-nio-gateway-secret";
inline constexpr char kAuthorizationMetadata[] = "authorization";
// The /metrics label of callers without a token.
inline constexpr char kAnonymousCaller[] = "anonymous";

struct Caller {
  // What per-caller limits count against: the token's name, else the peer
  // host ("ipv4:10.0.0.7", "ipv6:[::1]", "http:10.0.0.7").
  std::string name;
  // The scheduler's fair-share key: the token's name, else the connection
  // (the peer with its port, "http:ADDRESS" for HTTP clients); a stream
  // without a token adds its own suffix, so each is its own share.
  std::string share_key;
  // The /metrics label: the token's name, or kAnonymousCaller.
  std::string label;
  bool authenticated = false;
  // The token may run batch work only.
  bool batch_only = false;
};

struct CallerPolicy {
  // Non-empty: calls carrying it come from the HTTP gateway.
  std::string gateway_secret;
  // Not owned; null: no tokens are asked for.
  const TokenTable* tokens = nullptr;
};

// 32 random hex digits.
std::string NewGatewaySecret();

// What a call says of where it comes from.
struct CallFacts {
  std::string peer;            // gRPC's peer: "ipv4:10.0.0.7:5000"
  std::string authorization;   // the authorization metadata, or ""
  std::string gateway_secret;  // kGatewaySecretMetadata, or ""
  std::string http_peer;       // kHttpPeerMetadata, or ""
};

// The call's caller. UNAUTHENTICATED when the policy has tokens and the call
// carries no `authorization: Bearer TOKEN` metadata, or an unknown token.
absl::StatusOr<Caller> IdentifyCaller(const CallFacts& call,
                                      const CallerPolicy& policy);
// The same on the facts of a gRPC call.
absl::StatusOr<Caller> IdentifyCaller(
    const grpc::CallbackServerContext& context, const CallerPolicy& policy);

// The fair-share key of the caller's `stream_serial`-th stream: without a
// token each stream is its own share of the batch block; with one, all of
// the caller's streams, on any connection, share its name's.
std::string StreamShareKey(const Caller& caller, uint64_t stream_serial);

}  // namespace nio::service

#endif  // NIO_SERVICE_CALLER_IDENTITY_H_
