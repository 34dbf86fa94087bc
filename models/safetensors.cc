#include "models/safetensors.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace nio::models {
namespace {

// Headers over this size are rejected rather than allocated.
constexpr uint64_t kMaxHeaderBytes = 64ull << 20;

absl::Status Corrupt(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", what));
}

}  // namespace

absl::StatusOr<std::map<std::string, Float32Tensor>> ParseSafetensors(
    const std::string& bytes, const std::string& name) {
  if (bytes.size() < 8) {
    return Corrupt(
        name, absl::StrCat("file is ", bytes.size(),
                           " bytes, shorter than the 8-byte header length"));
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) {
    header_len = (header_len << 8) | static_cast<unsigned char>(bytes[i]);
  }
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8) {
    return Corrupt(name, absl::StrCat("header length ", header_len,
                                      " runs past the end of the file (",
                                      bytes.size(), " bytes)"));
  }
  nlohmann::json header = nlohmann::json::parse(
      bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(header_len),
      nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Corrupt(name, "header is not a JSON object");
  }
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = bytes.size() - data_start;

  std::map<std::string, Float32Tensor> tensors;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") continue;
    const std::string where = absl::StrCat("tensor '", key, "'");
    if (!entry.is_object()) return Corrupt(name, where + " is not an object");
    const auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string()) {
      return Corrupt(name, where + ": missing dtype");
    }
    if (dtype->get<std::string>() != "F32") {
      return Corrupt(name,
                     absl::StrCat(where, ": dtype ", dtype->get<std::string>(),
                                  ", expected F32"));
    }
    const auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array()) {
      return Corrupt(name, where + ": missing shape");
    }
    Float32Tensor t;
    uint64_t count = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0 ||
          d.get<int64_t>() > (int64_t{1} << 31)) {
        return Corrupt(name,
                       where + ": shape entries must be non-negative integers");
      }
      t.shape.push_back(d.get<int64_t>());
      count *= static_cast<uint64_t>(d.get<int64_t>());
      if (count > (uint64_t{1} << 34))
        return Corrupt(name, where + ": shape too large");
    }
    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() ||
        offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned()) {
      return Corrupt(
          name, where + ": data_offsets must be two non-negative integers");
    }
    const uint64_t begin = (*offsets)[0].get<uint64_t>();
    const uint64_t end = (*offsets)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return Corrupt(name,
                     absl::StrCat(where, ": data_offsets [", begin, ", ", end,
                                  ") outside the ", data_size, " data bytes"));
    }
    if (end - begin != count * sizeof(float)) {
      return Corrupt(name, absl::StrCat(where, ": ", end - begin, " bytes for ",
                                        count, " F32 values"));
    }
    t.values.resize(count);
    if (count > 0) {
      std::memcpy(t.values.data(), bytes.data() + data_start + begin,
                  count * sizeof(float));
    }
    tensors.emplace(key, std::move(t));
  }
  return tensors;
}

absl::StatusOr<std::map<std::string, Float32Tensor>> ReadSafetensors(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return ParseSafetensors(buffer.str(), path);
}

}  // namespace nio::models
