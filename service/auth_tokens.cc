#include "service/auth_tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace nio::service {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '.' && c != '-')
      return false;
  }
  return true;
}

}  // namespace

std::optional<std::string_view> BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  const absl::string_view value(header.data(), header.size());
  if (value.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(
          value.substr(0, kScheme.size()),
          absl::string_view(kScheme.data(), kScheme.size())))
    return std::nullopt;
  const absl::string_view token =
      absl::StripAsciiWhitespace(value.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  return std::string_view(token.data(), token.size());
}

TokenTable::Digest TokenTable::Hash(std::string_view token) {
  Digest digest{};
  unsigned int size = 0;
  EVP_Digest(token.data(), token.size(), digest.data(), &size, EVP_sha256(),
             nullptr);
  return digest;
}

absl::StatusOr<TokenTable> TokenTable::Parse(std::string_view text,
                                             const std::string& source) {
  TokenTable table;
  std::set<std::string> names;
  std::set<Digest> digests;
  int line_number = 0;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = absl::StrCat(source, ":", line_number, ": ");
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() < 2 || fields.size() > 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected 'NAME TOKEN [interactive|batch]', got ",
                       fields.size(), " fields"));
    }
    Entry entry;
    entry.holder.name = std::string(fields[0]);
    // Errors name the line, never a field's value: a line written
    // "TOKEN NAME" would otherwise print the token.
    if (!ValidName(std::string_view(fields[0].data(), fields[0].size()))) {
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       "the name (first field) must be 1-64 of the characters "
                       "A-Z a-z 0-9 _ . -"));
    }
    const std::string_view token(fields[1].data(), fields[1].size());
    if (token.size() < kMinTokenLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "the token (second field) is shorter than ", kMinTokenLength,
          " characters (make one with: openssl rand -hex 32)"));
    }
    if (!ValidTokenText(token)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       "the token (second field) may hold printable ASCII only "
                       "(it travels in an HTTP header)"));
    }
    if (fields.size() == 3) {
      if (fields[2] == "batch") {
        entry.holder.batch_only = true;
      } else if (fields[2] != "interactive") {
        return absl::InvalidArgumentError(
            absl::StrCat(where,
                         "the class (third field) must be interactive "
                         "or batch"));
      }
    }
    entry.digest = Hash(std::string_view(fields[1].data(), fields[1].size()));
    if (!names.insert(entry.holder.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "the name is also the name of an earlier line"));
    }
    if (!digests.insert(entry.digest).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          where,
          "the token is also an earlier line's (each caller needs its "
          "own)"));
    }
    table.entries_.push_back(std::move(entry));
  }
  if (table.entries_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no tokens (one 'NAME TOKEN' per line)"));
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("--auth_tokens: cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), absl::StrCat("--auth_tokens ", path));
}

const TokenHolder* TokenTable::Find(std::string_view token) const {
  // Digests of equal length, every entry compared: neither the position of
  // the first differing byte nor which entry matched shows in the time.
  const Digest digest = Hash(token);
  const TokenHolder* found = nullptr;
  for (const Entry& e : entries_) {
    const bool match =
        CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0;
    found = match ? &e.holder : found;
  }
  return found;
}

}  // namespace nio::service
