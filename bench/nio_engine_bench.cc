// nio_engine_bench: tracks/s of the in-process engine at 300 steps for several
// batch sizes on the same tracks, and the single-track latency. Prints one
// JSON object per line (bench/compare.py reads them and prints ratios).
//
//   nio_engine_bench --model_dir DIR --tracks tracks.json --batches
//   1,64,1024,8192
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "models/model.h"
#include "models/track_json.h"
#include "nlohmann/json.hpp"
#include "service/optimizer.h"
#include "service/usage.h"

ABSL_FLAG(std::string, model_dir, "",
          "model directory (default: the bundled model)");
ABSL_FLAG(std::string, tracks, "",
          "tracks JSON; their options are ignored (defaults used)");
ABSL_FLAG(std::string, batches, "1,64,1024,8192",
          "comma-separated batch sizes");
ABSL_FLAG(int, steps, 300, "NIO steps per track");
ABSL_FLAG(int, threads, 0, "CPU threads (0 = all cores)");
ABSL_FLAG(std::string, backend, "cpu", "auto, cpu or cuda");
ABSL_FLAG(
    bool, allow_tf32, false,
    "CUDA: TF32 tensor-core GEMMs (the catalog-in-1-s figure needs them)");
ABSL_FLAG(double, min_seconds, 2.0, "run each batch size at least this long");
ABSL_FLAG(int, single_track_runs, 21,
          "timed single-track optimizations for the latency");

namespace {

double Seconds(std::chrono::steady_clock::time_point a,
               std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int Run(int argc, char** argv) {
  nio::SetHelpToListFlagsOf("nio_engine_bench.cc");
  absl::SetProgramUsageMessage(
      "Measures the NIO engine's tracks/s per batch size and single-track "
      "latency.\n"
      "Usage: nio_engine_bench --tracks tracks.json [--model_dir DIR] "
      "[--batches 1,64]");
  absl::ParseCommandLine(argc, argv);
  std::string dir = absl::GetFlag(FLAGS_model_dir);
  if (dir.empty()) dir = nio::models::DefaultModelDir();
  auto model = nio::models::LoadModel(dir);
  if (!model.ok()) {
    std::cerr << "nio_engine_bench: " << model.status() << "\n";
    return 2;
  }
  std::vector<nio::models::TrackRequest> base;
  if (!absl::GetFlag(FLAGS_tracks).empty()) {
    auto parsed = nio::models::ReadTracksJsonFile(absl::GetFlag(FLAGS_tracks));
    if (!parsed.ok()) {
      std::cerr << "nio_engine_bench: " << parsed.status() << "\n";
      return 2;
    }
    base = std::move(*parsed);
  } else {
    for (const auto& genre : model->spec.categorical.values) {
      base.push_back({nio::models::RawTrack{genre, {}, genre}, {}});
    }
  }
  for (auto& r : base) {
    r.options = {};
    r.options.steps = absl::GetFlag(FLAGS_steps);
  }
  auto choice = nio::kernels::ParseBackendChoice(absl::GetFlag(FLAGS_backend));
  if (!choice.ok()) {
    std::cerr << "nio_engine_bench: " << choice.status() << "\n";
    return 2;
  }

  std::vector<int> batches;
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_batches), ',')) {
    int b = 0;
    if (!absl::SimpleAtoi(s, &b) || b <= 0) {
      std::cerr << "nio_engine_bench: bad batch size '" << s << "'\n";
      return 2;
    }
    batches.push_back(b);
  }
  for (int b : batches) {
    nio::service::SchedulerOptions o;
    o.backend = *choice;
    o.max_batch = b;
    o.compute.threads = absl::GetFlag(FLAGS_threads);
    o.compute.allow_tf32 = absl::GetFlag(FLAGS_allow_tf32);
    auto opt = nio::service::Optimizer::Create(*model, o);
    if (!opt.ok()) {
      std::cerr << "nio_engine_bench: " << opt.status() << "\n";
      return 2;
    }
    std::vector<nio::models::TrackRequest> requests;
    for (int i = 0; i < b; ++i) requests.push_back(base[i % base.size()]);
    (*opt)->Optimize(std::vector<nio::models::TrackRequest>(
        requests.begin(), requests.begin() + 1));
    std::vector<double> rates;
    double total = 0;
    while (total < absl::GetFlag(FLAGS_min_seconds) || rates.size() < 3) {
      const auto t0 = std::chrono::steady_clock::now();
      auto out = (*opt)->Optimize(requests);
      const double s = Seconds(t0, std::chrono::steady_clock::now());
      total += s;
      rates.push_back(b / s);
      if (total > 60) break;
    }
    std::sort(rates.begin(), rates.end());
    nlohmann::json line = {{"engine", (*opt)->BackendDescription()},
                           {"batch", b},
                           {"steps", absl::GetFlag(FLAGS_steps)},
                           {"runs", rates.size()},
                           {"tracks_per_s_median", rates[rates.size() / 2]},
                           {"tracks_per_s_min", rates.front()},
                           {"tracks_per_s_max", rates.back()}};
    std::cout << line.dump() << std::endl;
  }
  // Single-track latency (B = 1 engine, one track at a time).
  if (absl::GetFlag(FLAGS_single_track_runs) > 0) {
    nio::service::SchedulerOptions o;
    o.backend = *choice;
    o.max_batch = 1;
    o.compute.threads = absl::GetFlag(FLAGS_threads);
    o.compute.allow_tf32 = absl::GetFlag(FLAGS_allow_tf32);
    auto opt = nio::service::Optimizer::Create(*model, o);
    std::vector<double> ms;
    for (int i = 0; i < absl::GetFlag(FLAGS_single_track_runs); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      (*opt)->Optimize({base[i % base.size()]});
      ms.push_back(1000 * Seconds(t0, std::chrono::steady_clock::now()));
    }
    std::sort(ms.begin(), ms.end());
    nlohmann::json line = {{"single_track_ms_p50", ms[ms.size() / 2]},
                           {"single_track_ms_p90", ms[ms.size() * 9 / 10]},
                           {"runs", ms.size()}};
    std::cout << line.dump() << std::endl;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
