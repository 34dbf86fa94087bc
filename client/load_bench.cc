#include "client/load_bench.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/latency_summary.h"
#include "client/nio_client.h"
#include "client/remote_engine.h"

namespace nio::client {

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& o,
                                   const nio::v1::ModelInfo& model) {
  auto genre_tracks = GenreTracks(model);
  if (!genre_tracks.ok()) return genre_tracks.status();
  const std::vector<models::RawTrack>& pool = *genre_tracks;
  models::NioOptions options;
  options.steps = o.steps;
  options.optimizer = o.optimizer;
  options.starts = o.starts;
  options.mode = o.mode;
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::atomic<int64_t> tracks{0}, errors{0};
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(o.seconds);
  std::vector<std::thread> threads;
  for (int w = 0; w < o.concurrency; ++w) {
    threads.emplace_back([&, w] {
      auto client = NioClient::Connect(o.server, o.connect);
      if (!client.ok()) {
        errors++;
        return;
      }
      int n = 0;
      auto next_batch = [&] {
        std::vector<models::RawTrack> batch;
        for (int i = 0; i < o.tracks_per_request; ++i) {
          models::RawTrack t = pool[(w + n + i) % pool.size()];
          t.id = absl::StrCat("w", w, "-", n, "-", i);
          batch.push_back(std::move(t));
        }
        ++n;
        return batch;
      };
      if (o.stream) {
        // One stream per client, at most 8 messages in flight.
        RemoteEngineOptions stream;
        stream.window = 8 * o.tracks_per_request;
        RemoteEngine engine(client->get(), stream);
        (void)engine.Start([&](EngineResult r) {
          tracks++;
          if (!r.outcome.status.ok()) errors++;
        });
        while (std::chrono::steady_clock::now() < end) {
          if (!engine.Send(next_batch(), options).ok()) {
            errors++;
            break;
          }
        }
        if (!engine.Finish().ok()) errors++;
        return;
      }
      while (std::chrono::steady_clock::now() < end) {
        const auto batch = next_batch();
        const auto t0 = std::chrono::steady_clock::now();
        auto r = (*client)->Optimize(batch, options);
        const double ms = std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - t0)
                              .count();
        if (!r.ok()) {
          errors++;
          continue;
        }
        tracks += static_cast<int64_t>(batch.size());
        std::lock_guard<std::mutex> lock(mu);
        latencies_ms.push_back(ms);
      }
    });
  }
  for (auto& t : threads) t.join();
  LoadResult result;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  result.requests = static_cast<int64_t>(latencies_ms.size());
  result.tracks = tracks.load();
  result.errors = errors.load();
  result.tracks_per_s = result.seconds > 0 ? result.tracks / result.seconds : 0;
  const LatencySummary latency = Summarize(std::move(latencies_ms), 0);
  result.latency_ms_p50 = latency.p50_ms;
  result.latency_ms_p90 = latency.p90_ms;
  result.latency_ms_p99 = latency.p99_ms;
  return result;
}

}  // namespace nio::client
