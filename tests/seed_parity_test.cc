// The original app's model, converted by the exporter at test time, against
// the PyTorch reference run on the original artifacts: forward and 300-step
// NIO for 64 varied tracks within 1e-3. Skips when ../shared/seed-model is
// absent (see tools/make_seed_fixtures.sh).
#include <fstream>

#include "gtest/gtest.h"
#include "models/model.h"
#include "models/track_json.h"
#include "service/optimizer.h"
#include "tests/golden_compare.h"
#include "tests/test_util.h"

namespace nio::service {
namespace {

std::string SeedDir() { return nio::testing::GeneratedDir() + "/seed"; }

TEST(SeedParityTest, ForwardAndNioMatchPyTorchReference) {
  if (std::ifstream(SeedDir() + "/SKIP")) {
    GTEST_SKIP() << nio::testing::ReadFile(SeedDir() + "/SKIP");
  }
  auto model = models::LoadModel(SeedDir() + "/model");
  ASSERT_TRUE(model.ok()) << model.status()
                          << " (did the seed_fixture_setup test run?)";
  auto tracks = models::ParseTracksJson(
      nio::testing::ReadFile(SeedDir() + "/tracks.json"), "tracks.json");
  ASSERT_TRUE(tracks.ok()) << tracks.status();
  const auto golden =
      nlohmann::json::parse(nio::testing::ReadFile(SeedDir() + "/golden.json"));
  SchedulerOptions o;
  o.backend = kernels::BackendChoice::kCpu;
  o.max_batch = 16;
  auto opt = Optimizer::Create(*model, o);
  ASSERT_TRUE(opt.ok()) << opt.status();
  const auto outcomes = (*opt)->Optimize(*tracks);
  EXPECT_GE(nio::testing::ExpectMatchesGolden((*opt)->featurizer(), outcomes,
                                              golden, 1e-3),
            50);
}

}  // namespace
}  // namespace nio::service
