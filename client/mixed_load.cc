#include "client/mixed_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/nio_client.h"

namespace nio::client {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::vector<models::RawTrack> GenreTracks(const nio::v1::ModelInfo& model) {
  std::vector<models::RawTrack> pool;
  for (const std::string& genre : model.genres())
    pool.push_back({genre, {}, genre});
  return pool;
}

// One-track calls at `rate`/s (open loop: a late call is sent at once) for
// `seconds`, on its own channel.
absl::StatusOr<LatencySummary> OneTrackCalls(
    const std::string& server, const std::vector<models::RawTrack>& pool,
    const models::NioOptions& options, double rate, double seconds) {
  auto client = NioClient::Connect(server);
  if (!client.ok()) return client.status();
  std::vector<double> latencies;
  int64_t errors = 0;
  const auto period = std::chrono::duration<double>(1.0 / rate);
  const auto start = SteadyClock::now();
  const int calls = std::max(1, static_cast<int>(std::lround(seconds * rate)));
  for (int i = 0; i < calls; ++i) {
    std::this_thread::sleep_until(
        start + std::chrono::duration_cast<SteadyClock::duration>(i * period));
    models::RawTrack t = pool[i % pool.size()];
    t.id = absl::StrCat("one-", i);
    const auto t0 = SteadyClock::now();
    auto r = (*client)->Optimize({t}, options);
    const double ms =
        std::chrono::duration<double, std::milli>(SteadyClock::now() - t0)
            .count();
    if (!r.ok() || r->empty() || !(*r)[0].status.ok()) {
      ++errors;
      continue;
    }
    latencies.push_back(ms);
  }
  return Summarize(std::move(latencies), errors);
}

}  // namespace

LatencySummary Summarize(std::vector<double> latencies_ms, int64_t errors) {
  LatencySummary s;
  s.calls = static_cast<int64_t>(latencies_ms.size());
  s.errors = errors;
  if (latencies_ms.empty()) return s;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double q) {
    const size_t rank = static_cast<size_t>(std::ceil(q * latencies_ms.size()));
    return latencies_ms[std::clamp<size_t>(rank, 1, latencies_ms.size()) - 1];
  };
  s.p50_ms = pct(0.5);
  s.p90_ms = pct(0.9);
  s.p99_ms = pct(0.99);
  s.max_ms = latencies_ms.back();
  return s;
}

absl::StatusOr<MixedLoadResult> RunMixedLoad(const MixedLoadOptions& o,
                                             const nio::v1::ModelInfo& model) {
  const std::vector<models::RawTrack> pool = GenreTracks(model);
  if (pool.empty())
    return absl::FailedPreconditionError("the model has no genres");
  models::NioOptions options;
  options.steps = o.steps;
  MixedLoadResult result;

  // 1. One-track calls on an idle server.
  auto idle =
      OneTrackCalls(o.server, pool, options, o.interactive_rate, o.seconds);
  if (!idle.ok()) return idle.status();
  result.idle = *idle;

  // 2 and 3. Streams run through both phases; only completions inside each
  // window count.
  std::atomic<int64_t> completed{0}, stream_errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> streams;
  for (int w = 0; w < o.streams; ++w) {
    streams.emplace_back([&, w] {
      auto client = NioClient::Connect(o.server);
      if (!client.ok()) {
        stream_errors++;
        return;
      }
      RemoteEngine engine(client->get(), 8 * o.tracks_per_message);
      if (!engine
               .Start([&](EngineResult r) {
                 if (r.outcome.status.ok()) {
                   completed++;
                 } else {
                   stream_errors++;
                 }
               })
               .ok()) {
        stream_errors++;
        return;
      }
      for (int n = 0; !stop.load(); ++n) {
        std::vector<models::RawTrack> batch;
        for (int i = 0; i < o.tracks_per_message; ++i) {
          models::RawTrack t = pool[(w + n + i) % pool.size()];
          t.id = absl::StrCat("s", w, "-", n, "-", i);
          batch.push_back(std::move(t));
        }
        if (!engine.Send(batch, options).ok()) {
          stream_errors++;
          break;
        }
      }
      if (!engine.Finish().ok()) stream_errors++;
    });
  }
  auto window_rate = [&](auto body) {
    const int64_t before = completed.load();
    const auto t0 = SteadyClock::now();
    body();
    const double s =
        std::chrono::duration<double>(SteadyClock::now() - t0).count();
    return (completed.load() - before) / s;
  };
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_seconds));
  result.catalog_alone_tracks_per_s = window_rate([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  });
  absl::StatusOr<LatencySummary> mixed = absl::UnknownError("not run");
  result.catalog_mixed_tracks_per_s = window_rate([&] {
    mixed =
        OneTrackCalls(o.server, pool, options, o.interactive_rate, o.seconds);
  });
  stop.store(true);
  for (auto& t : streams) t.join();
  if (!mixed.ok()) return mixed.status();
  result.mixed = *mixed;
  result.stream_errors = stream_errors.load();
  return result;
}

}  // namespace nio::client
