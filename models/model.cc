#include "models/model.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kernels/status_macros.h"
#include "models/safetensors.h"

#ifndef NIO_BUNDLED_MODEL_DIR
#define NIO_BUNDLED_MODEL_DIR "models/bundled"
#endif

namespace nio::models {
namespace {

absl::StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace

std::string WeightTensorName(int layer) {
  return absl::StrCat("layers.", layer, ".weight");
}
std::string BiasTensorName(int layer) {
  return absl::StrCat("layers.", layer, ".bias");
}

std::string DefaultModelDir() {
  if (const char* env = std::getenv("NIO_MODEL_DIR"); env && *env) return env;
  return NIO_BUNDLED_MODEL_DIR;
}

absl::StatusOr<Model> LoadModel(const std::string& dir) {
  const std::string json_path = absl::StrCat(dir, "/", kModelJsonFile);
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return absl::NotFoundError(
        absl::StrCat(json_path, ": not found (no directory ", dir, ")"));
  }
  if (!std::filesystem::exists(json_path, error)) {
    // The original app's pickles are not this format, but the exporter
    // turns them into it: say so rather than only "cannot open".
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      const std::string ext = entry.path().extension().string();
      if (ext == ".pth" || ext == ".pt" || ext == ".pkl") {
        return absl::NotFoundError(absl::StrCat(
            dir, ": no ", kModelJsonFile, " but PyTorch/pickle files (",
            entry.path().filename().string(),
            "): convert them with models/tools/export_pytorch.py (see "
            "models/README.md)"));
      }
    }
  }
  NIO_ASSIGN_OR_RETURN(const std::string json_text, ReadText(json_path));
  NIO_ASSIGN_OR_RETURN(const std::string weights_bytes,
                       ReadText(absl::StrCat(dir, "/", kWeightsFile)));
  return ParseModel(json_text, weights_bytes, dir);
}

absl::StatusOr<Model> ParseModel(const std::string& json_text,
                                 const std::string& weights_bytes,
                                 const std::string& dir) {
  Model model;
  model.dir = dir;
  NIO_ASSIGN_OR_RETURN(
      model.spec,
      ParseModelSpec(json_text, absl::StrCat(dir, "/", kModelJsonFile)));
  const std::string weights_path = absl::StrCat(dir, "/", kWeightsFile);
  NIO_ASSIGN_OR_RETURN(auto tensors,
                       ParseSafetensors(weights_bytes, weights_path));

  const std::vector<int>& sizes = model.spec.layer_sizes;
  const int num_layers = static_cast<int>(sizes.size()) - 1;
  for (int l = 0; l < num_layers; ++l) {
    kernels::DenseLayer layer;
    layer.in = sizes[l];
    layer.out = sizes[l + 1];
    const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
        {WeightTensorName(l), {layer.out, layer.in}},
        {BiasTensorName(l), {layer.out}}};
    for (const auto& [name, shape] : expected) {
      auto it = tensors.find(name);
      if (it == tensors.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            weights_path, ": tensor '", name, "' is missing (expected shape ",
            ShapeText(shape), ")"));
      }
      if (it->second.shape != shape) {
        return absl::InvalidArgumentError(
            absl::StrCat(weights_path, ": tensor '", name, "' has shape ",
                         ShapeText(it->second.shape),
                         ", model.json's layer_sizes need ", ShapeText(shape)));
      }
      for (size_t i = 0; i < it->second.values.size(); ++i) {
        if (!std::isfinite(it->second.values[i])) {
          return absl::InvalidArgumentError(
              absl::StrCat(weights_path, ": tensor '", name,
                           "' has a non-finite value at flat index ", i));
        }
      }
    }
    layer.weight = std::move(tensors[WeightTensorName(l)].values);
    layer.bias = std::move(tensors[BiasTensorName(l)].values);
    tensors.erase(WeightTensorName(l));
    tensors.erase(BiasTensorName(l));
    model.mlp.layers.push_back(std::move(layer));
  }
  if (!tensors.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        weights_path, ": unexpected tensor '", tensors.begin()->first,
        "' (the model has ", num_layers, " layers)"));
  }
  NIO_RETURN_IF_ERROR(kernels::ValidateMlp(model.mlp));
  return model;
}

}  // namespace nio::models
