// The bearer tokens a server accepts (--auth_tokens FILE). One token per
// line:
//
//   # comment
//   NAME TOKEN [interactive|batch]
//
// NAME is who the caller is: its fair-share key in the scheduler, its label
// in /metrics, what its limits count against. A token marked `batch` may run
// batch work only (its unary calls never take the interactive block);
// `interactive`, the default, may run both. Tokens are kept as SHA-256
// digests and compared in constant time; neither the file nor a token is
// ever logged or echoed in an error.
#ifndef NIO_SERVICE_AUTH_TOKENS_H_
#define NIO_SERVICE_AUTH_TOKENS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace nio::service {

// The tokens are random strings of at least this many characters.
inline constexpr size_t kMinTokenLength = 16;

// Whether `token` can be a token: printable ASCII without spaces, what an
// HTTP header and gRPC metadata carry unchanged.
inline bool ValidTokenText(std::string_view token) {
  if (token.empty()) return false;
  for (char c : token) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// The token of an Authorization value "Bearer TOKEN" (the scheme in any
// case, spaces around the token dropped), or nullopt for any other value.
std::optional<std::string_view> BearerToken(std::string_view header);

struct TokenHolder {
  std::string name;
  bool batch_only = false;
};

class TokenTable {
 public:
  // INVALID_ARGUMENT naming the line for a malformed line (a line that
  // does not have 2 or 3 fields, a name that is not [A-Za-z0-9_.-]+, a token
  // shorter than kMinTokenLength, an unknown class, a name or token given
  // twice); `source` names the file in messages. An empty table is an error:
  // a server that asks for tokens and accepts none would refuse everyone.
  static absl::StatusOr<TokenTable> Parse(std::string_view text,
                                          const std::string& source);
  // Parse on the file's contents; NOT_FOUND when it cannot be read.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The holder of `token`, or null. Takes the same time whichever entry
  // matches, or none.
  const TokenHolder* Find(std::string_view token) const;
  size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<uint8_t, 32>;
  static Digest Hash(std::string_view token);
  struct Entry {
    TokenHolder holder;
    Digest digest;
  };
  std::vector<Entry> entries_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_AUTH_TOKENS_H_
