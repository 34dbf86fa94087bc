// Fuzz target of the model loader: model.json text, a NUL byte, then the
// weights.safetensors bytes (no NUL: all model.json, no weights). Runs the
// safetensors reader on the weights alone, then ParseModel (what LoadModel
// runs on the two files: spec, weights and their cross checks), and on a
// model that loads, featurizes and builds the default problem of every
// preset, as the server and the web page do.
#include <cstdint>
#include <string>

#include "models/featurizer.h"
#include "models/model.h"
#include "models/nio_problem.h"
#include "models/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using nio::models::Featurizer;

// The number of values a shape holds, or -1 when the product overflows.
int64_t ShapeCount(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && count > INT64_MAX / d) return -1;
    count *= d;
  }
  return count;
}

void CheckLoaded(const nio::models::Model& model) {
  const nio::models::ModelSpec& spec = model.spec;
  NIO_FUZZ_CHECK(spec.layer_sizes.size() >= 2 &&
                     static_cast<size_t>(spec.layer_sizes.front()) ==
                         spec.features.size() &&
                     model.mlp.layers.size() + 1 == spec.layer_sizes.size(),
                 "layers disagree with the spec");
  for (size_t l = 0; l < model.mlp.layers.size(); ++l) {
    const auto& layer = model.mlp.layers[l];
    NIO_FUZZ_CHECK(
        layer.weight.size() == static_cast<size_t>(layer.in) * layer.out &&
            layer.bias.size() == static_cast<size_t>(layer.out),
        "layer " + std::to_string(l) + " of the wrong size");
  }
  const Featurizer featurizer(spec);
  for (const nio::models::Preset& preset : spec.presets) {
    nio::models::RawTrack track;
    track.id = preset.name;
    track.genre = preset.genre;
    track.features = preset.features;
    auto x = featurizer.ToScaled(track);
    NIO_FUZZ_CHECK(x.ok(), "a preset model.json accepts does not featurize: " +
                               x.status().ToString());
    nio::fuzz::CheckScaled(featurizer, *x);
    auto problem = nio::models::BuildNioProblem(featurizer, track, {});
    NIO_FUZZ_CHECK(problem.ok(), "a preset's default problem does not build: " +
                                     problem.status().ToString());
    nio::fuzz::CheckProblem(featurizer, *problem);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input = nio::fuzz::AsString(data, size);
  const size_t nul = input.find('\0');
  const std::string json =
      nul == std::string::npos ? input : input.substr(0, nul);
  const std::string weights =
      nul == std::string::npos ? std::string() : input.substr(nul + 1);

  auto tensors = nio::models::ParseSafetensors(weights, "fuzz.safetensors");
  if (tensors.ok()) {
    for (const auto& [name, t] : *tensors) {
      NIO_FUZZ_CHECK(
          ShapeCount(t.shape) >= 0 &&
              static_cast<uint64_t>(ShapeCount(t.shape)) == t.values.size(),
          "tensor '" + name + "': shape and values disagree");
    }
  }
  auto model = nio::models::ParseModel(json, weights, "fuzz");
  if (model.ok()) CheckLoaded(*model);
  return 0;
}
