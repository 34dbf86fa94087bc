// The in-process optimizer end to end on the committed tiny model: PyTorch
// goldens, batch invariance, projected mode, per-track failures.
#include <algorithm>

#include "gtest/gtest.h"
#include "models/model.h"
#include "models/track_json.h"
#include "service/optimizer.h"
#include "tests/golden_compare.h"
#include "tests/test_util.h"

namespace nio::service {
namespace {

using nio::testing::AllClose;

class EngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto model = models::LoadModel(nio::testing::TestDataDir() + "/tiny_model");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new models::Model(std::move(*model));
    auto tracks = models::ParseTracksJson(
        nio::testing::ReadFile(nio::testing::TestDataDir() +
                               "/tiny_tracks.json"),
        "tiny_tracks.json");
    ASSERT_TRUE(tracks.ok()) << tracks.status();
    tracks_ = new std::vector<TrackRequest>(std::move(*tracks));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tracks_;
  }
  std::unique_ptr<Optimizer> Make(int max_batch) {
    SchedulerOptions o;
    o.backend = kernels::BackendChoice::kCpu;
    o.max_batch = max_batch;
    o.compute.threads = 2;
    auto opt = Optimizer::Create(*model_, o);
    EXPECT_TRUE(opt.ok()) << opt.status();
    return std::move(opt).value();
  }
  static models::Model* model_;
  static std::vector<TrackRequest>* tracks_;
};
models::Model* EngineTest::model_ = nullptr;
std::vector<TrackRequest>* EngineTest::tracks_ = nullptr;

TEST_F(EngineTest, MatchesPyTorchGoldens) {
  const auto golden = nlohmann::json::parse(nio::testing::ReadFile(
      nio::testing::TestDataDir() + "/tiny_golden.json"));
  // A batch smaller than the track count: admissions at many step boundaries.
  auto opt = Make(7);
  const auto outcomes = opt->Optimize(*tracks_);
  EXPECT_GE(nio::testing::ExpectMatchesGolden(opt->featurizer(), outcomes,
                                              golden, 1e-4),
            35);
}

TEST_F(EngineTest, TrackAloneEqualsTrackInsideABatchOfAThousand) {
  auto opt = Make(1024);
  const TrackRequest probe = (*tracks_)[3];
  const auto alone = opt->Optimize({probe});
  ASSERT_TRUE(alone[0].status.ok());
  std::vector<TrackRequest> crowd;
  for (int i = 0; i < 1000; ++i) {
    TrackRequest r = (*tracks_)[i % tracks_->size()];
    r.track.id = "crowd" + std::to_string(i);
    crowd.push_back(r);
  }
  crowd.insert(crowd.begin() + 517, probe);
  const auto batched = opt->Optimize(crowd);
  const auto& inside = batched[517].result;
  ASSERT_TRUE(batched[517].status.ok());
  EXPECT_EQ(inside.id, probe.track.id);
  // Bit for bit: the CPU backend is batch invariant.
  EXPECT_EQ(inside.prediction_after, alone[0].result.prediction_after);
  EXPECT_EQ(inside.prediction_raw, alone[0].result.prediction_raw);
  ASSERT_EQ(inside.changes.size(), alone[0].result.changes.size());
  for (size_t c = 0; c < inside.changes.size(); ++c) {
    EXPECT_EQ(inside.changes[c].unclamped, alone[0].result.changes[c].unclamped)
        << inside.changes[c].name;
  }
}

TEST(BundledEngineTest, AnInputOutsideTheBoxDoesNotMoveWhenMovingLoses) {
  // A chicago-house track at -40 dB, far below loudness's box (-23.2..0 dB):
  // reference mode's +-3 clamp drags it into the box and the prediction
  // drops; projected mode widens the box to hold -40 and, as every step up
  // loses, leaves it there and says no improving change was found.
  auto model = models::LoadModel(models::DefaultModelDir());
  ASSERT_TRUE(model.ok()) << model.status();
  SchedulerOptions o;
  o.backend = kernels::BackendChoice::kCpu;
  o.max_batch = 8;
  auto opt = Optimizer::Create(*model, o);
  ASSERT_TRUE(opt.ok()) << opt.status();
  TrackRequest request;
  request.track.id = "quiet";
  request.track.genre = "chicago-house";
  request.track.features = {{"loudness", -40.0}};
  request.options.mutable_features = {"loudness"};
  request.options.mode = models::NioMode::kProjected;
  TrackRequest reference = request;
  reference.options.mode = models::NioMode::kReference;
  const auto outcomes = (*opt)->Optimize({request, reference});
  ASSERT_TRUE(outcomes[0].status.ok()) << outcomes[0].status;
  ASSERT_TRUE(outcomes[1].status.ok()) << outcomes[1].status;
  const models::NioResult& projected = outcomes[0].result;
  ASSERT_EQ(projected.changes.size(), 1u);
  EXPECT_NEAR(projected.changes[0].optimized, -40.0, 1e-4);
  EXPECT_GE(projected.delta, 0.0);
  EXPECT_FALSE(projected.quality.improved);
  const models::NioResult& clamped = outcomes[1].result;
  EXPECT_GT(clamped.changes[0].optimized, -23.3);
  EXPECT_LT(clamped.delta, 0.0) << "reference mode was expected to lose here";
  EXPECT_FALSE(clamped.quality.improved);
}

TEST_F(EngineTest, ProjectedModeStaysInRangeAndKeepsItsGain) {
  auto opt = Make(64);
  std::vector<TrackRequest> requests = *tracks_;
  for (auto& r : requests) {
    r.options = {};
    r.options.mode = models::NioMode::kProjected;
  }
  const auto outcomes = opt->Optimize(requests);
  const auto& spec = model_->spec;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.status.ok()) << o.status;
    // The projection is the per-step box: the post-hoc clamp changes nothing.
    EXPECT_NEAR(o.result.prediction_raw, o.result.prediction_after, 1e-3)
        << o.result.id;
    for (const auto& c : o.result.changes) {
      const auto& f = spec.features[spec.FeatureIndex(c.name)];
      EXPECT_GE(c.unclamped, f.range_min - 1e-4)
          << o.result.id << " " << c.name;
      EXPECT_LE(c.unclamped, f.range_max + 1e-4)
          << o.result.id << " " << c.name;
    }
  }
}

TEST_F(EngineTest, BoundsAndMaxDeltaAreRespected) {
  auto opt = Make(8);
  TrackRequest r = (*tracks_)[0];
  r.options = {};
  r.options.mode = models::NioMode::kProjected;
  r.options.mutable_features = {"tempo", "energy"};
  r.options.bounds["tempo"].min = 100;
  r.options.bounds["tempo"].max = 110;
  r.options.bounds["energy"].max_delta = 0.05;
  const auto out = opt->Optimize({r});
  ASSERT_TRUE(out[0].status.ok()) << out[0].status;
  ASSERT_EQ(out[0].result.changes.size(), 2u);
  for (const auto& c : out[0].result.changes) {
    if (c.name == "tempo") {
      EXPECT_GE(c.optimized, 100 - 1e-3);
      EXPECT_LE(c.optimized, 110 + 1e-3);
    } else {
      EXPECT_LE(std::fabs(c.delta), 0.05 + 1e-5);
    }
  }
}

TEST_F(EngineTest, ABadTrackFailsAloneWithItsField) {
  auto opt = Make(8);
  std::vector<TrackRequest> requests(tracks_->begin(), tracks_->begin() + 4);
  requests[1].track.features.emplace_back("loudnes", -5.0);
  requests[2].options.steps = 0;
  const auto out = opt->Optimize(requests);
  EXPECT_TRUE(out[0].status.ok());
  EXPECT_EQ(out[1].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out[1].status.message().find("loudnes"), std::string::npos)
      << out[1].status;
  EXPECT_NE(out[1].status.message().find(requests[1].track.id),
            std::string::npos);
  EXPECT_EQ(out[2].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out[2].status.message().find("options.steps"), std::string::npos);
  EXPECT_TRUE(out[3].status.ok());
  EXPECT_EQ(out[3].result.steps_run, 300);
}

TEST_F(EngineTest, PredictMatchesGoldenBefore) {
  const auto golden = nlohmann::json::parse(nio::testing::ReadFile(
      nio::testing::TestDataDir() + "/tiny_golden.json"));
  auto opt = Make(4);
  std::vector<models::RawTrack> tracks;
  for (const auto& r : *tracks_) tracks.push_back(r.track);
  tracks.push_back(models::RawTrack{"bad", {}, "no-such-genre"});
  const auto got = opt->Predict(tracks);
  for (size_t i = 0; i < tracks_->size(); ++i) {
    ASSERT_TRUE(got[i].ok());
    EXPECT_NEAR(*got[i], golden["tracks"][i]["prediction_before"].get<double>(),
                1e-4);
  }
  EXPECT_EQ(got.back().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, CudaRequestWithoutDeviceIsFailedPrecondition) {
  if (kernels::CudaDeviceCount() > 0)
    GTEST_SKIP() << "a CUDA device is present";
  SchedulerOptions o;
  o.backend = kernels::BackendChoice::kCuda;
  EXPECT_EQ(Optimizer::Create(*model_, o).status().code(),
            absl::StatusCode::kFailedPrecondition);
  o.backend = kernels::BackendChoice::kAuto;
  auto opt = Optimizer::Create(*model_, o);
  ASSERT_TRUE(opt.ok());
  EXPECT_NE((*opt)->backend_log_line().find("CUDA not used"), std::string::npos)
      << (*opt)->backend_log_line();
}

}  // namespace
}  // namespace nio::service
