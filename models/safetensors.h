// A strict reader of the safetensors format: an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets}, ...,
// "__metadata__": {...}}, then the data. Every offset and size is checked
// against the file before it is used, so a truncated or corrupt file gives an
// error Status, never a crash.
#ifndef NIO_MODELS_SAFETENSORS_H_
#define NIO_MODELS_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace nio::models {

struct Float32Tensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// All tensors of a safetensors file, which must all be F32.
// Errors name the file (and tensor) at fault; INVALID_ARGUMENT for a corrupt
// file, NOT_FOUND when it is missing.
absl::StatusOr<std::map<std::string, Float32Tensor>> ReadSafetensors(
    const std::string& path);

// The same from bytes already in memory; `name` is used in messages.
absl::StatusOr<std::map<std::string, Float32Tensor>> ParseSafetensors(
    const std::string& bytes, const std::string& name);

}  // namespace nio::models

#endif  // NIO_MODELS_SAFETENSORS_H_
