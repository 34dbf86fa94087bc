#include "service/caller_identity.h"

#include <openssl/crypto.h>

#include <cstdio>
#include <random>

namespace nio::service {
namespace {

std::string MetadataValue(const grpc::CallbackServerContext& context,
                          const char* key) {
  const auto& md = context.client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
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

std::string CallerOf(const grpc::CallbackServerContext& context,
                     const std::string& gateway_secret) {
  if (!gateway_secret.empty()) {
    const std::string secret = MetadataValue(context, kGatewaySecretMetadata);
    const std::string http_peer = MetadataValue(context, kHttpPeerMetadata);
    // Constant time, so the secret cannot be guessed by timing.
    if (secret.size() == gateway_secret.size() && !http_peer.empty() &&
        CRYPTO_memcmp(secret.data(), gateway_secret.data(), secret.size()) ==
            0) {
      return "http:" + http_peer;
    }
  }
  return context.peer();
}

}  // namespace nio::service
