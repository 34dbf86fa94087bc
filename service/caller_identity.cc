#include "service/caller_identity.h"

#include <openssl/crypto.h>

#include <cstdio>
#include <optional>
#include <random>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace nio::service {
namespace {

std::string MetadataValue(const grpc::CallbackServerContext& context,
                          const char* key) {
  const auto& md = context.client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// "ipv4:127.0.0.1:5000" -> "ipv4:127.0.0.1"; "ipv6:[::1]:5000" ->
// "ipv6:[::1]"; a peer without a port (unix:...) as it is.
std::string PeerHost(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  const size_t scheme = peer.find(':');
  if (colon == std::string::npos || colon == scheme) return peer;
  const size_t bracket = peer.rfind(']');
  if (bracket != std::string::npos && bracket > colon) return peer;
  return peer.substr(0, colon);
}

}  // namespace

std::string NewGatewaySecret() {
  std::random_device random;
  std::string secret;
  for (int i = 0; i < 4; ++i) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", random());
    secret += hex;
  }
  return secret;
}

absl::StatusOr<Caller> IdentifyCaller(const CallFacts& call,
                                      const CallerPolicy& policy) {
  Caller caller;
  caller.label = kAnonymousCaller;
  caller.share_key = call.peer;
  caller.name = PeerHost(call.peer);
  if (!policy.gateway_secret.empty()) {
    const std::string& secret = call.gateway_secret;
    // Constant time, so the secret cannot be guessed by timing.
    if (secret.size() == policy.gateway_secret.size() &&
        !call.http_peer.empty() &&
        CRYPTO_memcmp(secret.data(), policy.gateway_secret.data(),
                      secret.size()) == 0) {
      caller.share_key = caller.name = "http:" + call.http_peer;
    }
  }
  if (policy.tokens == nullptr) return caller;
  if (call.authorization.empty()) {
    return absl::UnauthenticatedError(
        "authorization: this server needs a token: send 'authorization: "
        "Bearer TOKEN' (nio --token_file, HTTP Authorization header)");
  }
  const std::optional<std::string_view> token = BearerToken(call.authorization);
  if (!token) {
    return absl::UnauthenticatedError("authorization: expected 'Bearer TOKEN'");
  }
  const TokenHolder* holder = policy.tokens->Find(*token);
  if (holder == nullptr) {
    return absl::UnauthenticatedError("authorization: unknown token");
  }
  caller.name = caller.share_key = caller.label = holder->name;
  caller.authenticated = true;
  caller.batch_only = holder->batch_only;
  return caller;
}

absl::StatusOr<Caller> IdentifyCaller(
    const grpc::CallbackServerContext& context, const CallerPolicy& policy) {
  CallFacts call;
  call.peer = context.peer();
  call.authorization = MetadataValue(context, kAuthorizationMetadata);
  if (!policy.gateway_secret.empty()) {
    call.gateway_secret = MetadataValue(context, kGatewaySecretMetadata);
    call.http_peer = MetadataValue(context, kHttpPeerMetadata);
  }
  return IdentifyCaller(call, policy);
}

std::string StreamShareKey(const Caller& caller, uint64_t stream_serial) {
  if (caller.authenticated) return caller.share_key;
  return absl::StrCat(caller.share_key, "/stream-", stream_serial);
}

}  // namespace nio::service
