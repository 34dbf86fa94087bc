// The model artifact format: loader and safetensors checks on corrupt input,
// the featurizer, tracks JSON and per-request option validation.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>

#include "gtest/gtest.h"
#include "models/feature_box.h"
#include "models/feature_validity.h"
#include "models/featurizer.h"
#include "models/model.h"
#include "models/nio_problem.h"
#include "models/safetensors.h"
#include "models/track_json.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace nio::models {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using nio::testing::ReadFile;
using nio::testing::WriteFile;

std::string TinyDir() { return nio::testing::TestDataDir() + "/tiny_model"; }

// Serializes tensors (name -> (shape, values)) as safetensors bytes.
std::string MakeSafetensors(
    const std::map<std::string, std::pair<std::vector<int64_t>,
                                          std::vector<float>>>& tensors,
    const std::string& dtype = "F32") {
  Json header = Json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    const size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(t.second.data()),
                t.second.size() * sizeof(float));
    header[name] = {{"dtype", dtype},
                    {"shape", t.first},
                    {"data_offsets", {begin, data.size()}}};
  }
  const std::string text = header.dump();
  std::string out(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + text + data;
}

// A scratch copy of the tiny model that a test may break.
class ModelDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = nio::testing::FreshScratchDir(
        "nio_model_" +
        std::string(
            ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::copy(TinyDir(), dir_, fs::copy_options::recursive);
    json_ = Json::parse(ReadFile(TinyDir() + "/model.json"));
    auto tensors = ReadSafetensors(TinyDir() + "/weights.safetensors");
    ASSERT_TRUE(tensors.ok()) << tensors.status();
    for (auto& [name, t] : *tensors) tensors_[name] = {t.shape, t.values};
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteJson() {
    WriteFile((dir_ / kModelJsonFile).string(), json_.dump(1));
  }
  void WriteWeights() {
    WriteFile((dir_ / kWeightsFile).string(), MakeSafetensors(tensors_));
  }
  // Loads and expects INVALID_ARGUMENT with every fragment in the message.
  void ExpectLoadError(
      const std::vector<std::string>& fragments,
      absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
    auto model = LoadModel(dir_.string());
    ASSERT_FALSE(model.ok()) << "loaded a broken model";
    EXPECT_EQ(model.status().code(), code) << model.status();
    for (const auto& f : fragments) {
      EXPECT_NE(model.status().message().find(f), std::string::npos)
          << "'" << f << "' not in: " << model.status().message();
    }
  }

  fs::path dir_;
  Json json_;
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>
      tensors_;
};

TEST_F(ModelDirTest, TheCommittedTinyModelLoads) {
  auto model = LoadModel(dir_.string());
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->spec.name, "tiny-random");
  EXPECT_EQ(model->spec.layer_sizes, (std::vector<int>{13, 24, 16, 8, 1}));
  EXPECT_EQ(model->mlp.layers.size(), 4u);
  EXPECT_EQ(model->spec.categorical.reference, "acoustic");
  EXPECT_EQ(model->spec.defaults.steps, 300);
  EXPECT_FALSE(model->spec.presets.empty());
}

TEST_F(ModelDirTest, MissingTensor) {
  tensors_.erase("layers.2.bias");
  WriteWeights();
  ExpectLoadError({"weights.safetensors", "layers.2.bias", "missing"});
}

TEST_F(ModelDirTest, ExtraTensor) {
  tensors_["layers.9.weight"] = {{1}, {0.5f}};
  WriteWeights();
  ExpectLoadError({"unexpected tensor", "layers.9.weight"});
}

TEST_F(ModelDirTest, WrongShape) {
  tensors_["layers.1.weight"] = {{16, 23}, std::vector<float>(16 * 23, 0.1f)};
  WriteWeights();
  ExpectLoadError({"layers.1.weight", "[16, 23]", "[16, 24]"});
}

TEST_F(ModelDirTest, NanWeight) {
  tensors_["layers.0.weight"].second[5] =
      std::numeric_limits<float>::quiet_NaN();
  WriteWeights();
  ExpectLoadError({"layers.0.weight", "non-finite", "index 5"});
}

TEST_F(ModelDirTest, WrongDtype) {
  WriteFile((dir_ / kWeightsFile).string(), MakeSafetensors(tensors_, "F16"));
  ExpectLoadError({"dtype F16"});
}

TEST_F(ModelDirTest, TruncatedHeader) {
  const std::string bytes = MakeSafetensors(tensors_);
  WriteFile((dir_ / kWeightsFile).string(), bytes.substr(0, 5));
  ExpectLoadError({"shorter than the 8-byte header"});
  WriteFile((dir_ / kWeightsFile).string(), bytes.substr(0, 40));
  ExpectLoadError({"runs past the end"});
}

TEST_F(ModelDirTest, HeaderLengthPastTheEnd) {
  std::string bytes = MakeSafetensors(tensors_);
  bytes[6] = 0x7f;  // a header length of ~2^55
  WriteFile((dir_ / kWeightsFile).string(), bytes);
  ExpectLoadError({"header length", "past the end"});
}

TEST_F(ModelDirTest, DataOffsetsPastTheEnd) {
  std::string bytes = MakeSafetensors(tensors_);
  WriteFile((dir_ / kWeightsFile).string(), bytes.substr(0, bytes.size() - 4));
  ExpectLoadError({"data_offsets", "outside"});
}

TEST_F(ModelDirTest, GarbageHeader) {
  std::string bytes = MakeSafetensors(tensors_);
  for (size_t i = 8; i < 40; ++i) bytes[i] = '#';
  WriteFile((dir_ / kWeightsFile).string(), bytes);
  ExpectLoadError({"not a JSON object"});
}

TEST_F(ModelDirTest, EveryTruncationFailsCleanly) {
  // Under ASan this also proves no read past a buffer on any prefix.
  const std::string bytes = ReadFile(TinyDir() + "/weights.safetensors");
  for (size_t n = 0; n < bytes.size(); n += 7) {
    auto parsed = ParseSafetensors(bytes.substr(0, n), "cut");
    EXPECT_FALSE(parsed.ok()) << "prefix of " << n << " bytes parsed";
  }
}

TEST_F(ModelDirTest, BadJson) {
  WriteFile((dir_ / kModelJsonFile).string(),
            "{\"format_version\": 1, \"name\": ");
  ExpectLoadError({"model.json", "not valid JSON"});
}

TEST_F(ModelDirTest, MissingFiles) {
  fs::remove(dir_ / kWeightsFile);
  ExpectLoadError({"weights.safetensors", "cannot open"},
                  absl::StatusCode::kNotFound);
  fs::remove(dir_ / kModelJsonFile);
  ExpectLoadError({"model.json"}, absl::StatusCode::kNotFound);
}

TEST_F(ModelDirTest, InconsistentSpecsNameTheField) {
  struct Case {
    std::function<void(Json&)> edit;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {[](Json& j) { j["format_version"] = 2; },
       {"format_version", "not supported"}},
      {[](Json& j) { j.erase("name"); }, {"name: missing"}},
      {[](Json& j) { j["features"][2]["scale"] = 0; },
       {"features[2].scale", "positive"}},
      {[](Json& j) { j["features"][2]["scale"] = 1e-300; },
       {"features[2].scale", "beyond a float's range"}},
      {[](Json& j) { j["features"][10]["scale"] = 1e-300; },
       {"features[10].scale", "beyond a float's range"}},
      {[](Json& j) { j["features"][2]["kind"] = "text"; },
       {"features[2].kind", "unknown kind"}},
      {[](Json& j) { j["features"][3]["name"] = j["features"][2]["name"]; },
       {"features[3].name", "duplicate"}},
      {[](Json& j) {
         j["features"][4]["range"] = {1, 0};
       },
       {"features[4].range", "min > max"}},
      {[](Json& j) { j["features"][10]["category"] = "jazz"; },
       {"features[10].category", "jazz"}},
      {[](Json& j) { j["network"]["layer_sizes"][0] = 14; },
       {"features", "layer_sizes[0] is 14"}},
      {[](Json& j) { j["network"]["activation"] = "tanh"; },
       {"network.activation"}},
      {[](Json& j) { j["categorical"]["reference"] = "jazz"; },
       {"categorical.reference"}},
      {[](Json& j) { j["nio_defaults"]["lr"] = -1; }, {"nio_defaults.lr"}},
      // A request could not ask for these, so neither may a model's default.
      {[](Json& j) { j["nio_defaults"]["lr"] = 1e-40; },
       {"nio_defaults.lr", "(0, 10]"}},
      {[](Json& j) { j["nio_defaults"]["lr"] = 11; },
       {"nio_defaults.lr", "(0, 10]"}},
      {[](Json& j) { j["nio_defaults"]["steps"] = 100001; },
       {"nio_defaults.steps", "[1, 100000]"}},
      {[](Json& j) { j["nio_defaults"]["lambda"] = 2e6; },
       {"nio_defaults.lambda", "[0, 1e+06]"}},
      {[](Json& j) { j["nio_defaults"]["mode"] = "magic"; },
       {"nio_defaults.mode"}},
      {[](Json& j) { j["presets"][0]["genre"] = "jazz"; },
       {"presets[0].genre"}},
      {[](Json& j) { j["presets"][1]["features"]["loudnes"] = 1; },
       {"presets[1].features", "loudnes"}},
      {[](Json& j) { j["presets"][1]["features"]["energy"] = 2; },
       {"presets[1].features.energy", "[0, 1]"}},
      {[](Json& j) { j["presets"][1]["features"]["mode"] = 0.5; },
       {"presets[1].features.mode", "whole"}},
      {[](Json& j) {
         j["features"][2]["valid"] = {{"min", 1}, {"max", 0}};
       },
       {"features[2].valid.min", "min > max"}},
      {[](Json& j) {
         j["features"][2]["valid"] = {{"low", 0}};
       },
       {"features[2].valid.low", "unknown field"}},
      {[](Json& j) {
         j["features"][2]["valid"] = {{"max_exclusive", true}};
       },
       {"valid.max_exclusive", "needs max"}},
      {[](Json& j) {
         j["features"][8]["valid"] = {{"min", 100}};
       },
       {"features[8].range", "valid range [100, inf)"}},
      {[](Json& j) { j["features"][1]["mutable"] = true; },
       {"features[1].mutable", "'explicit'", "binary", "cannot move"}},
      {[](Json& j) {
         j["features"][8]["kind"] = "integer";
         j["features"][8]["range"] = {60.5, 220};
       },
       {"features[8].range", "whole numbers"}},
      {[](Json& j) {
         j["features"][5]["valid"] = {{"min", 0.2}, {"max", 0.8}};
       },
       {"features[5].valid", "no value"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    json_ = Json::parse(ReadFile(TinyDir() + "/model.json"));
    cases[i].edit(json_);
    WriteJson();
    ExpectLoadError(cases[i].fragments);
  }
}

TEST_F(ModelDirTest, WeightShapesMustAgreeWithLayerSizes) {
  json_["network"]["layer_sizes"] = {13, 24, 16, 1};
  WriteJson();
  ExpectLoadError({"layers.2.weight", "shape"});
}

// ------------------------------------------------------------------ featurizer

class FeaturizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto model = LoadModel(TinyDir());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
  }
  Model model_;
};

TEST_F(FeaturizerTest, ScalesOneHotAndMissingFeaturesAsTheTraining) {
  Featurizer f(model_.spec);
  RawTrack t{"x", {{"energy", 0.8}, {"tempo", 140}}, "edm"};
  auto x = f.ToScaled(t);
  ASSERT_TRUE(x.ok()) << x.status();
  for (size_t i = 0; i < model_.spec.features.size(); ++i) {
    const FeatureSpec& s = model_.spec.features[i];
    // Missing -> the mean (binary: the nearest valid whole value).
    double raw =
        s.kind == FeatureKind::kBinary ? std::nearbyint(s.mean) : s.mean;
    if (s.name == "energy") raw = 0.8;
    if (s.name == "tempo") raw = 140;
    if (s.kind == FeatureKind::kOneHot) raw = s.category == "edm" ? 1.0 : 0.0;
    EXPECT_NEAR((*x)[i], (raw - s.mean) / s.scale, 1e-6) << s.name;
  }
  // The reference genre is all zeros in raw space.
  auto ref = f.ToScaled(RawTrack{"r", {}, "acoustic"});
  ASSERT_TRUE(ref.ok());
  const RawTrack back = f.FromScaled(ref->data(), "r");
  EXPECT_EQ(back.genre, "acoustic");
  EXPECT_EQ(f.FromScaled(x->data(), "x").genre, "edm");
  for (const auto& [name, value] : f.FromScaled(x->data(), "x").features) {
    if (name == "tempo") EXPECT_NEAR(value, 140, 1e-4);
  }
}

TEST_F(FeaturizerTest, RejectsBadNamesAndValuesNamingTheField) {
  Featurizer f(model_.spec);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<RawTrack, std::vector<std::string>>> cases = {
      {{"a1", {{"dancability", 0.5}}, "pop"},
       {"track 'a1'", "'dancability'", "unknown feature"}},
      {{"a2", {{"energy", nan}}, "pop"}, {"track 'a2'", "'energy'", "finite"}},
      {{"a3", {{"tempo", inf}}, "pop"}, {"'tempo'", "finite"}},
      {{"a4", {{"tempo", -inf}}, "pop"}, {"'tempo'", "finite"}},
      {{"a5", {}, "polka"}, {"track 'a5'", "track_genre", "'polka'"}},
      {{"a6", {}, ""}, {"track_genre", "missing"}},
      {{"a7", {{"track_genre_pop", 1}}, "pop"},
       {"'track_genre_pop'", "one-hot"}},
      {{"a8", {{"energy", 0.1}, {"energy", 0.2}}, "pop"},
       {"'energy'", "twice"}},
      // Inside duration_ms's valid range (0, inf), but an infinite float
      // once scaled (found by fuzzing).
      {{"a9", {{"duration_ms", 1e60}}, "pop"},
       {"track 'a9'", "'duration_ms'", "too far from the training data"}},
  };
  for (const auto& [track, fragments] : cases) {
    auto x = f.ToScaled(track);
    ASSERT_FALSE(x.ok()) << track.id;
    EXPECT_EQ(x.status().code(), absl::StatusCode::kInvalidArgument);
    for (const auto& frag : fragments) {
      EXPECT_NE(x.status().message().find(frag), std::string::npos)
          << track.id << ": '" << frag << "' not in " << x.status().message();
    }
  }
}

TEST_F(FeaturizerTest, OptionsAreValidatedWithTheField) {
  Featurizer f(model_.spec);
  RawTrack t{"o", {}, "pop"};
  auto expect_error = [&](NioOptions o, const std::string& fragment) {
    auto p = BuildNioProblem(f, t, o);
    ASSERT_FALSE(p.ok()) << fragment;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find(fragment), std::string::npos)
        << p.status();
  };
  NioOptions o;
  o.steps = 0;
  expect_error(o, "options.steps");
  o = {};
  o.steps = kMaxSteps + 1;
  expect_error(o, "options.steps");
  o = {};
  o.lr = 0;
  expect_error(o, "options.lr");
  o = {};
  o.lr = std::numeric_limits<double>::quiet_NaN();
  expect_error(o, "options.lr");
  o = {};
  o.lr = 1e-120;  // a float 0 (found by fuzzing)
  expect_error(o, "options.lr: must be in (0, 10] (at least");
  o = {};
  o.lambda = -1;
  expect_error(o, "options.lambda");
  o = {};
  o.mutable_features = {"energy", "bogus"};
  expect_error(o, "options.mutable_features");
  o = {};
  o.mutable_features = {"track_genre_pop"};
  expect_error(o, "one-hot");
  o = {};
  o.mutable_features = {"energy", "energy"};
  expect_error(o, "twice");
  o = {};
  o.bounds["tempo"].min = 150;
  o.bounds["tempo"].max = 100;
  expect_error(o, "options.bounds[tempo]");
  o = {};
  o.bounds["duration_ms"].min = 1;
  expect_error(o, "does not move");
  o = {};
  o.bounds["energy"].max_delta = -0.1;
  expect_error(o, "max_delta");
  o = {};
  o.bounds["energy"].min = 2;  // outside the realistic range [0, 1]
  expect_error(o, "empty range");
  o = {};
  o.mode = NioMode::kProjected;
  o.target = 1e300;  // finite, but an infinite float (found by fuzzing)
  expect_error(o, "options.target: must be a finite number within");
}

TEST_F(FeaturizerTest, ProblemBoxesFollowTheMode) {
  Featurizer f(model_.spec);
  RawTrack t{"b", {{"tempo", 100}}, "pop"};
  NioOptions o;
  auto ref = BuildNioProblem(f, t, o);
  ASSERT_TRUE(ref.ok());
  for (size_t c = 0; c < ref->lo.size(); ++c) {
    EXPECT_EQ(ref->lo[c], -3.0f);
    EXPECT_EQ(ref->hi[c], 3.0f);
  }
  o.mode = NioMode::kProjected;
  auto proj = BuildNioProblem(f, t, o);
  ASSERT_TRUE(proj.ok());
  const auto movable = MovableColumns(model_.spec);
  for (size_t c = 0; c < movable.size(); ++c) {
    const FeatureSpec& s = model_.spec.features[movable[c]];
    EXPECT_NEAR(proj->lo[c], std::max(-3.0, (s.range_min - s.mean) / s.scale),
                1e-6)
        << s.name;
    EXPECT_NEAR(proj->hi[c], std::min(3.0, (s.range_max - s.mean) / s.scale),
                1e-6)
        << s.name;
  }
}

// ------------------------------------------------ validity, boxes, improvement

// The bundled model: the data set's columns with their valid ranges.
class BundledModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto model = LoadModel(DefaultModelDir());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new Model(std::move(*model));
  }
  static void TearDownTestSuite() { delete model_; }
  const FeatureSpec& Feature(const std::string& name) {
    return model_->spec.features[model_->spec.FeatureIndex(name)];
  }
  static Model* model_;
};
Model* BundledModelTest::model_ = nullptr;

TEST_F(BundledModelTest, DefaultsToProjectedModeWithTheDataSetsValidRanges) {
  EXPECT_EQ(model_->spec.defaults.mode, NioMode::kProjected);
  EXPECT_EQ(DescribeValidRange(Feature("danceability")), "[0, 1]");
  EXPECT_EQ(DescribeValidRange(Feature("loudness")), "[-60, 6]");
  EXPECT_EQ(DescribeValidRange(Feature("tempo")), "(0, 300]");
  EXPECT_EQ(DescribeValidRange(Feature("duration_ms")), "(0, inf)");
  EXPECT_EQ(DescribeValidRange(Feature("key")), "whole numbers in [-1, 11]");
  EXPECT_EQ(DescribeValidRange(Feature("time_signature")),
            "whole numbers in [0, 7]");
  EXPECT_EQ(DescribeValidRange(Feature("mode")), "0 or 1");
  EXPECT_EQ(Feature("key").kind, FeatureKind::kInteger);
  EXPECT_EQ(Feature("explicit").kind, FeatureKind::kBinary);
}

TEST_F(BundledModelTest,
       ValuesOutsideTheValidRangeAreRefusedWithFieldValueAndRange) {
  Featurizer f(model_->spec);
  const std::vector<std::pair<RawTrack, std::vector<std::string>>> cases = {
      {{"v1", {{"danceability", 4}}, "pop"},
       {"track 'v1'", "'danceability'", "4", "[0, 1]"}},
      {{"v2", {{"tempo", -100}}, "pop"},
       {"track 'v2'", "'tempo'", "-100", "(0, 300]"}},
      {{"v3", {{"tempo", 0}}, "pop"}, {"'tempo'", "0 is outside", "(0, 300]"}},
      {{"v4", {{"key", 12}}, "pop"}, {"track 'v4'", "'key'", "12", "[-1, 11]"}},
      {{"v5", {{"key", 5.5}}, "pop"},
       {"'key'", "5.5", "not a whole number", "[-1, 11]"}},
      {{"v6", {{"mode", 0.7}}, "pop"}, {"'mode'", "0.7", "0 or 1"}},
      {{"v7", {{"loudness", 7}}, "pop"}, {"'loudness'", "7", "[-60, 6]"}},
      {{"v8", {{"duration_ms", 0}}, "pop"}, {"'duration_ms'", "(0, inf)"}},
  };
  for (const auto& [track, fragments] : cases) {
    auto x = f.ToScaled(track);
    ASSERT_FALSE(x.ok()) << track.id;
    EXPECT_EQ(x.status().code(), absl::StatusCode::kInvalidArgument);
    for (const auto& frag : fragments) {
      EXPECT_NE(x.status().message().find(frag), std::string::npos)
          << track.id << ": '" << frag << "' not in " << x.status().message();
    }
  }
  // The ends of the valid ranges are valid (loudness up to +6 dB: clipped
  // masters in the data set).
  EXPECT_TRUE(f.ToScaled({"ok",
                          {{"danceability", 1},
                           {"loudness", 4.5},
                           {"tempo", 300},
                           {"key", -1},
                           {"time_signature", 7},
                           {"mode", 0}},
                          "pop"})
                  .ok());
}

TEST_F(BundledModelTest, MissingWholeValuedFeaturesTakeTheNearestValidValue) {
  Featurizer f(model_->spec);
  auto x = f.ToScaled({"m", {}, "pop"});
  ASSERT_TRUE(x.ok()) << x.status();
  for (const char* name : {"explicit", "mode", "key", "time_signature"}) {
    const int i = model_->spec.FeatureIndex(name);
    const double raw = f.Unscale(i, (*x)[i]);
    EXPECT_NEAR(raw, std::nearbyint(Feature(name).mean), 1e-4) << name;
    EXPECT_NEAR(raw, std::round(raw), 1e-4) << name;
  }
  EXPECT_EQ(DefaultRawValue(Feature("explicit")), 0.0);  // mean 0.085 -> 0
  EXPECT_EQ(DefaultRawValue(Feature("danceability")),
            Feature("danceability").mean);
}

TEST_F(BundledModelTest, IntegerAndBinaryFeaturesCannotMove) {
  Featurizer f(model_->spec);
  for (const auto& [name, fragment] :
       std::vector<std::pair<std::string, std::string>>{
           {"mode", "0 or 1"},
           {"explicit", "0 or 1"},
           {"key", "[-1, 11]"},
           {"time_signature", "[0, 7]"}}) {
    NioOptions o;
    o.mutable_features = {"energy", name};
    auto p = BuildNioProblem(f, {"mv", {}, "pop"}, o);
    ASSERT_FALSE(p.ok()) << name;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    for (const std::string& frag :
         {std::string("track 'mv'"), std::string("options.mutable_features"),
          "'" + name + "'", fragment, std::string("cannot move")}) {
      EXPECT_NE(p.status().message().find(frag), std::string::npos)
          << p.status();
    }
  }
}

// What GetModel and `nio info` report (EffectiveBox) is what a projected
// problem enforces, feature by feature, for a track inside the box.
TEST_F(BundledModelTest, EffectiveBoxesAreWhatProjectedProblemsEnforce) {
  Featurizer f(model_->spec);
  const std::vector<int>& movable = f.MovableColumns();
  int checked = 0;
  for (size_t c = 0; c < movable.size(); ++c) {
    const FeatureSpec& spec = model_->spec.features[movable[c]];
    if (spec.kind != FeatureKind::kNumeric) continue;
    NioOptions o;
    o.mode = NioMode::kProjected;
    o.mutable_features = {spec.name};
    auto p = BuildNioProblem(f, {"box", {}, "pop"}, o);
    ASSERT_TRUE(p.ok()) << p.status();
    const RawBox box = EffectiveBox(spec);
    EXPECT_EQ(p->raw_lo[c], box.min) << spec.name;
    EXPECT_EQ(p->raw_hi[c], box.max) << spec.name;
    EXPECT_EQ(p->lo[c], f.Scale(movable[c], box.min)) << spec.name;
    EXPECT_EQ(p->hi[c], f.Scale(movable[c], box.max)) << spec.name;
    EXPECT_GE(p->lo[c], -3.0f - 1e-5f) << spec.name;
    EXPECT_LE(p->hi[c], 3.0f + 1e-5f) << spec.name;
    ++checked;
  }
  EXPECT_EQ(checked, 10);
  // The issue's figures: loudness stops at -23.2 dB, speechiness at 0.404.
  EXPECT_NEAR(EffectiveBox(Feature("loudness")).min, -23.2, 0.05);
  EXPECT_NEAR(EffectiveBox(Feature("speechiness")).max, 0.404, 0.0005);
}

TEST_F(BundledModelTest, ProjectedBoxHoldsAStartOutsideItAndBoundsStillNarrow) {
  Featurizer f(model_->spec);
  const int idx = model_->spec.FeatureIndex("loudness");
  const std::vector<int>& movable = f.MovableColumns();
  const size_t c =
      std::find(movable.begin(), movable.end(), idx) - movable.begin();
  const RawTrack t{"quiet", {{"loudness", -40}}, "pop"};
  NioOptions o;
  o.mode = NioMode::kProjected;
  auto p = BuildNioProblem(f, t, o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->lo[c], p->x0[idx]) << "the start is inside its own box";
  EXPECT_NEAR(p->raw_lo[c], -40, 1e-4);
  EXPECT_EQ(p->raw_hi[c], EffectiveBox(Feature("loudness")).max);
  // A bound still narrows (here it forces the move the caller asked for).
  o.bounds["loudness"].min = -30;
  p = BuildNioProblem(f, t, o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->raw_lo[c], -30);
  // Reference mode keeps the original's semantics: +-3 each step, the
  // realistic range after the loop.
  o = {};
  o.mode = NioMode::kReference;
  p = BuildNioProblem(f, t, o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->lo[c], -3.0f);
  EXPECT_EQ(p->raw_lo[c], Feature("loudness").range_min);
}

TEST(ResultQualityTest, ImprovedMeansAfterPredictsHigherThanBefore) {
  auto model = LoadModel(TinyDir());
  ASSERT_TRUE(model.ok()) << model.status();
  Featurizer f(model->spec);
  auto problem = BuildNioProblem(f, {"q", {}, "pop"}, {});
  ASSERT_TRUE(problem.ok()) << problem.status();
  const std::vector<float> p(f.MovableColumns().size(), 0.0f);
  const std::vector<float> inputs = ResultInputs(f, *problem, p);
  for (const auto& [after, improved] : std::vector<std::pair<float, bool>>{
           {41.f, true}, {40.f, false}, {39.f, false}}) {
    const float predictions[kResultInputRows] = {40.f, 45.f, after};
    const NioResult r =
        BuildNioResult(f, *problem, inputs.data(), predictions, 3);
    EXPECT_EQ(r.quality.improved, improved) << after;
    EXPECT_EQ(r.quality.improved, r.delta > 0) << after;
  }
}

// ----------------------------------------------------------------- tracks JSON

TEST(TrackJsonTest, ParsesTracksAndOptions) {
  auto tracks = ParseTracksJson(R"({"tracks": [
      {"id": "a", "genre": "pop", "features": {"energy": 0.5, "explicit": true},
       "options": {"steps": 10, "lr": 0.1, "lambda": 0, "mode": "projected",
                   "mutable_features": ["energy"],
                   "bounds": {"energy": {"min": 0.2, "max_delta": 0.1}}}},
      {"genre": "edm"}]})",
                                "t.json");
  ASSERT_TRUE(tracks.ok()) << tracks.status();
  ASSERT_EQ(tracks->size(), 2u);
  const TrackRequest& a = (*tracks)[0];
  EXPECT_EQ(a.track.id, "a");
  EXPECT_EQ(a.track.features[1].second, 1.0);
  EXPECT_EQ(*a.options.steps, 10);
  EXPECT_EQ(*a.options.mode, NioMode::kProjected);
  EXPECT_EQ(*a.options.bounds.at("energy").min, 0.2);
  EXPECT_FALSE(a.options.bounds.at("energy").max.has_value());
  EXPECT_EQ((*tracks)[1].track.id, "1");
}

TEST(TrackJsonTest, ErrorsNameThePath) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[{\"id\": \"a\", \"features\": {\"energy\": \"high\"}}]",
       "[0].features.energy"},
      {"{\"tracks\": [{}, {\"colour\": 1}]}", "tracks[1].colour"},
      {"[{\"options\": {\"mode\": \"fast\"}}]", "[0].options.mode"},
      {"[{\"options\": {\"steps\": 1.5}}]", "[0].options.steps"},
      {"[{\"options\": {\"bounds\": {\"tempo\": {\"lo\": 1}}}}]",
       "bounds.tempo.lo"},
      {"not json", "not valid JSON"},
      {"42", "must be an array"},
  };
  for (const auto& [text, fragment] : cases) {
    auto tracks = ParseTracksJson(text, "t.json");
    ASSERT_FALSE(tracks.ok()) << text;
    EXPECT_NE(tracks.status().message().find(fragment), std::string::npos)
        << tracks.status() << " lacks " << fragment;
  }
}

}  // namespace
}  // namespace nio::models
