// LocalEngine (nio batch --local): what it counts in flight is what the
// scheduler will answer, so Finish returns once every queued track has.
#include "client/local_engine.h"

#include <chrono>
#include <future>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"
#include "models/model.h"
#include "models/track_json.h"
#include "tests/test_util.h"

namespace nio::client {
namespace {

using namespace std::chrono_literals;

// A Send the scheduler refuses (more starts than the block has slots) is
// not counted in flight: Finish returns instead of waiting for answers that
// never come, and the tracks sent after it are answered.
TEST(LocalEngineTest, ARefusedSendIsNotCountedInFlight) {
  auto model = models::LoadModel(nio::testing::TestDataDir() + "/tiny_model");
  ASSERT_TRUE(model.ok()) << model.status();
  auto requests = models::ParseTracksJson(
      nio::testing::ReadFile(nio::testing::TestDataDir() + "/tiny_tracks.json"),
      "tiny_tracks.json");
  ASSERT_TRUE(requests.ok()) << requests.status();
  std::vector<models::RawTrack> tracks;
  for (const auto& r : *requests) tracks.push_back(r.track);
  tracks.resize(3);

  service::SchedulerOptions o;
  o.backend = kernels::BackendChoice::kCpu;
  o.max_batch = 2;
  o.compute.threads = 1;
  auto engine = LocalEngine::Create(*model, o, /*window=*/16);
  ASSERT_TRUE(engine.ok()) << engine.status();
  std::mutex mu;
  std::vector<EngineResult> results;
  ASSERT_TRUE((*engine)
                  ->Start([&](EngineResult r) {
                    std::lock_guard<std::mutex> lock(mu);
                    results.push_back(std::move(r));
                  })
                  .ok());

  models::NioOptions too_many;
  too_many.starts = 8;
  EXPECT_FALSE((*engine)->Send(tracks, too_many).ok());
  models::NioOptions fits;
  fits.starts = 1;
  fits.steps = 5;
  ASSERT_TRUE((*engine)->Send(tracks, fits).ok());

  auto finished =
      std::async(std::launch::async, [&] { return (*engine)->Finish(); });
  ASSERT_EQ(finished.wait_for(60s), std::future_status::ready)
      << "Finish waits for the refused tracks";
  EXPECT_TRUE(finished.get().ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(results.size(), 3u);
  for (const EngineResult& r : results) EXPECT_TRUE(r.outcome.status.ok());
}

}  // namespace
}  // namespace nio::client
