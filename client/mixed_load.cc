#include "client/mixed_load.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/nio_client.h"
#include "service/proto_convert.h"

namespace nio::client {
namespace {

using SteadyClock = std::chrono::steady_clock;

// One-track calls at `rate`/s for `seconds`, on their own channel. Open
// loop: each call starts on time on its own thread, however long earlier
// ones take (a slow server sees the calls pile up, as it would in service).
absl::StatusOr<LatencySummary> OneTrackCalls(
    const std::string& server, const ConnectOptions& connect,
    const std::vector<models::RawTrack>& pool,
    const models::NioOptions& options, double rate, double seconds) {
  auto client = NioClient::Connect(server, connect);
  if (!client.ok()) return client.status();
  const int calls = std::max(1, static_cast<int>(std::lround(seconds * rate)));
  std::vector<double> latencies(calls, -1);  // -1: failed
  std::vector<std::thread> threads;
  const auto period = std::chrono::duration<double>(1.0 / rate);
  const auto start = SteadyClock::now();
  for (int i = 0; i < calls; ++i) {
    std::this_thread::sleep_until(
        start + std::chrono::duration_cast<SteadyClock::duration>(i * period));
    threads.emplace_back([&, i] {
      models::RawTrack t = pool[i % pool.size()];
      t.id = absl::StrCat("one-", i);
      const auto t0 = SteadyClock::now();
      auto r = (*client)->Optimize({t}, options);
      if (r.ok() && !r->empty() && (*r)[0].status.ok()) {
        latencies[i] =
            std::chrono::duration<double, std::milli>(SteadyClock::now() - t0)
                .count();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> ok;
  for (double ms : latencies) {
    if (ms >= 0) ok.push_back(ms);
  }
  const int64_t errors = calls - static_cast<int64_t>(ok.size());
  return Summarize(std::move(ok), errors);
}

// The largest of a few round step counts that divides `steps`: the
// streams' progress interval, so progress events count every track-step.
int ProgressEvery(int steps) {
  for (int p : {50, 25, 20, 10, 5, 4, 2}) {
    if (steps % p == 0) return p;
  }
  return 1;
}

// One catalog stream: keeps `window` tracks in flight until `stop`, counting
// the track-steps its progress events report (tracks admitted together
// finish together, so completions arrive in waves several seconds apart;
// track-steps flow evenly). Cancels the stream at the end instead of
// draining it.
void CatalogStream(NioClient* client, int w, const MixedLoadOptions& o,
                   const std::vector<models::RawTrack>& pool,
                   const std::atomic<bool>& stop,
                   std::atomic<int64_t>* track_steps,
                   std::atomic<int64_t>* errors) {
  const int every = ProgressEvery(o.steps);
  const int window = 8 * o.tracks_per_message;
  grpc::ClientContext context;
  client->Prepare(&context);
  auto stream = client->stub()->OptimizeStream(&context);
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  bool reader_done = false;
  std::thread reader([&] {
    nio::v1::OptimizeStreamResponse r;
    while (stream->Read(&r)) {
      if (r.has_progress()) {
        *track_steps += every;
        continue;
      }
      if (r.result().status().code() != 0) ++*errors;
      std::lock_guard<std::mutex> lock(mu);
      --in_flight;
      cv.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu);
    reader_done = true;
    cv.notify_all();
  });
  nio::v1::OptimizeStreamRequest request;
  models::NioOptions options;
  options.steps = o.steps;
  options.optimizer = o.optimizer;
  options.starts = o.starts;
  options.mode = o.mode;
  service::ToProto(options, request.mutable_options());
  request.mutable_options()->set_progress_every(every);
  for (int n = 0; !stop.load(); ++n) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] {
        return stop.load() || reader_done ||
               in_flight + o.tracks_per_message <= window;
      });
      if (stop.load() || reader_done) break;
      in_flight += o.tracks_per_message;
    }
    request.clear_tracks();
    for (int i = 0; i < o.tracks_per_message; ++i) {
      models::RawTrack t = pool[(w + n + i) % pool.size()];
      t.id = absl::StrCat("s", w, "-", n, "-", i);
      service::ToProto(t, request.add_tracks());
    }
    if (!stream->Write(request)) {
      ++*errors;
      break;
    }
  }
  context.TryCancel();
  {
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
  }
  reader.join();
  stream->Finish();  // CANCELLED: we ended it
}

}  // namespace

absl::StatusOr<MixedLoadResult> RunMixedLoad(const MixedLoadOptions& o,
                                             const nio::v1::ModelInfo& model) {
  auto genre_tracks = GenreTracks(model);
  if (!genre_tracks.ok()) return genre_tracks.status();
  const std::vector<models::RawTrack>& pool = *genre_tracks;
  models::NioOptions options;
  options.steps = o.steps;
  options.optimizer = o.optimizer;
  options.starts = o.starts;
  options.mode = o.mode;
  MixedLoadResult result;

  // 1. One-track calls on an idle server.
  auto idle = OneTrackCalls(o.server, o.connect, pool, options,
                            o.interactive_rate, o.seconds);
  if (!idle.ok()) return idle.status();
  result.idle = *idle;

  // 2 and 3. Streams run through both phases; only track-steps inside each
  // window count.
  std::atomic<int64_t> track_steps{0}, stream_errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<NioClient>> clients;
  for (int w = 0; w < o.streams; ++w) {
    auto client = NioClient::Connect(o.server, o.connect);
    if (!client.ok()) return client.status();
    clients.push_back(std::move(*client));
  }
  std::vector<std::thread> streams;
  for (int w = 0; w < o.streams; ++w) {
    streams.emplace_back([&, w] {
      CatalogStream(clients[w].get(), w, o, pool, stop, &track_steps,
                    &stream_errors);
    });
  }
  // Tracks/s: track-steps/s over the steps a track runs.
  auto window_rate = [&](auto body) {
    const int64_t before = track_steps.load();
    const auto t0 = SteadyClock::now();
    body();
    const double s =
        std::chrono::duration<double>(SteadyClock::now() - t0).count();
    return (track_steps.load() - before) / s / o.steps;
  };
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup_seconds));
  result.catalog_alone_tracks_per_s = window_rate([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  });
  absl::StatusOr<LatencySummary> mixed = absl::UnknownError("not run");
  result.catalog_mixed_tracks_per_s = window_rate([&] {
    mixed = OneTrackCalls(o.server, o.connect, pool, options,
                          o.interactive_rate, o.seconds);
  });
  stop.store(true);
  for (auto& t : streams) t.join();
  if (!mixed.ok()) return mixed.status();
  result.mixed = *mixed;
  result.stream_errors = stream_errors.load();
  return result;
}

}  // namespace nio::client
