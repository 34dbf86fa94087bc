// How good the suggestions are and what they cost, in one invocation: the
// original app's answer (reference mode: Adam, post-hoc clamp) as the
// baseline, then projected mode with each optimizer x starts x steps (x start
// pool) configuration, each over the same tracks; and the convergence stop
// against fixed steps. Prints markdown tables (bench/README.md has them for
// the original app's model).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "models/model.h"
#include "models/track_json.h"
#include "service/optimizer.h"
#include "service/usage.h"

ABSL_FLAG(std::string, model_dir, "",
          "model directory (default: the bundled model)");
ABSL_FLAG(std::string, tracks, "", "tracks JSON (their options are ignored)");
ABSL_FLAG(std::string, configs,
          "adam:1:300,adam:8:300,lbfgs:1:100,lbfgs:8:30,lbfgs:8:100,"
          "lbfgs:8:15:256",
          "comma-separated projected-mode configurations, each "
          "optimizer:starts:steps[:start_pool]");
ABSL_FLAG(int, steps, 300,
          "steps of the reference baseline and the convergence table");
ABSL_FLAG(std::string, tolerances, "1e-3,1e-4",
          "convergence table: comma-separated tolerances (empty: no table)");
ABSL_FLAG(int, window, 20, "convergence window, steps");
ABSL_FLAG(int, catalog_tracks, 1024,
          "convergence table: tracks per run (the given ones, repeated)");
ABSL_FLAG(int, latency_runs, 21, "timed one-track optimizations per K");
ABSL_FLAG(int, threads, 0, "CPU threads (0 = all cores)");
ABSL_FLAG(std::string, backend, "cpu", "auto, cpu or cuda");

namespace {

using nio::models::NioResult;
using nio::models::TrackOutcome;
using nio::models::TrackRequest;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Run {
  std::vector<NioResult> results;
  double seconds = 0;
};

// All requests at once; every track must succeed.
bool OptimizeAll(nio::service::Optimizer& opt,
                 const std::vector<TrackRequest>& requests, Run* run) {
  const auto t0 = Clock::now();
  std::vector<TrackOutcome> out = opt.Optimize(requests);
  run->seconds = Seconds(t0, Clock::now());
  run->results.clear();
  for (TrackOutcome& o : out) {
    if (!o.status.ok()) {
      std::cerr << "quality_bench: " << o.status << "\n";
      return false;
    }
    run->results.push_back(std::move(o.result));
  }
  return true;
}

// One projected-mode configuration of the table.
struct Config {
  nio::models::Optimizer optimizer = nio::models::Optimizer::kAdam;
  int starts = 1;
  int steps = 300;
  int start_pool = 0;
};

absl::StatusOr<std::vector<Config>> ParseConfigs(const std::string& s) {
  std::vector<Config> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(part, ':');
    Config c;
    auto optimizer = nio::models::ParseOptimizer(f[0]);
    if (!optimizer.ok() || f.size() < 3 || f.size() > 4 ||
        !absl::SimpleAtoi(f[1], &c.starts) ||
        !absl::SimpleAtoi(f[2], &c.steps) ||
        (f.size() == 4 && !absl::SimpleAtoi(f[3], &c.start_pool))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--configs: '", part, "': expected optimizer:starts:steps[:pool]"));
    }
    c.optimizer = *optimizer;
    out.push_back(c);
  }
  return out;
}

int Main(int argc, char** argv) {
  nio::SetHelpToListFlagsOf("quality_bench.cc");
  absl::SetProgramUsageMessage(
      "Suggestion quality and cost per number of starts, and the convergence "
      "stop against fixed steps.\n"
      "Usage: quality_bench --tracks tracks.json [--model_dir DIR]");
  absl::ParseCommandLine(argc, argv);
  std::string dir = absl::GetFlag(FLAGS_model_dir);
  if (dir.empty()) dir = nio::models::DefaultModelDir();
  auto model = nio::models::LoadModel(dir);
  if (!model.ok()) {
    std::cerr << "quality_bench: " << model.status() << "\n";
    return 2;
  }
  auto parsed = nio::models::ReadTracksJsonFile(absl::GetFlag(FLAGS_tracks));
  if (!parsed.ok() || parsed->empty()) {
    std::cerr << "quality_bench: --tracks: "
              << (parsed.ok() ? "no tracks" : parsed.status().ToString())
              << "\n";
    return 2;
  }
  std::vector<TrackRequest> tracks = std::move(*parsed);
  const int steps = absl::GetFlag(FLAGS_steps);
  auto configs = ParseConfigs(absl::GetFlag(FLAGS_configs));
  if (!configs.ok()) {
    std::cerr << "quality_bench: " << configs.status().message() << "\n";
    return 2;
  }

  auto backend = nio::kernels::ParseBackendChoice(absl::GetFlag(FLAGS_backend));
  if (!backend.ok()) {
    std::cerr << "quality_bench: --backend: " << backend.status().message()
              << "\n";
    return 2;
  }
  nio::service::SchedulerOptions o;
  o.backend = *backend;
  o.max_batch = 1024;
  o.compute.threads = absl::GetFlag(FLAGS_threads);
  auto opt = nio::service::Optimizer::Create(*model, o);
  if (!opt.ok()) {
    std::cerr << "quality_bench: " << opt.status() << "\n";
    return 2;
  }
  nio::service::Optimizer& engine = **opt;
  std::cout << "model: " << model->spec.name << " " << model->spec.version
            << "; " << tracks.size() << " tracks, " << steps
            << " steps; engine: " << engine.BackendDescription() << "\n\n";

  auto with = [&](nio::models::NioMode mode, const Config& c) {
    std::vector<TrackRequest> requests = tracks;
    for (TrackRequest& r : requests) {
      r.options = {};
      r.options.steps = c.steps;
      r.options.mode = mode;
      r.options.optimizer = c.optimizer;
      r.options.starts = c.starts;
      r.options.start_pool = c.start_pool;
    }
    return requests;
  };
  Run baseline;
  if (!OptimizeAll(
          engine,
          with(nio::models::NioMode::kReference, Config{.steps = steps}),
          &baseline)) {
    return 1;
  }
  double baseline_mean = 0;
  for (const NioResult& r : baseline.results)
    baseline_mean += r.prediction_after;
  baseline_mean /= tracks.size();

  std::cout << "| mode | optimizer | starts | steps | start pool | mean "
               "prediction after | at or above the original's post-hoc result "
               "| mean distance (scaled L2) | mean features changed | "
               "tracks/s | one track p50 ms |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|\n";
  auto one_track_p50 = [&](nio::models::NioMode mode, const Config& c) {
    std::vector<double> ms;
    const std::vector<TrackRequest> requests = with(mode, c);
    for (int i = 0; i < absl::GetFlag(FLAGS_latency_runs); ++i) {
      std::vector<TrackRequest> one = {requests[i % tracks.size()]};
      const auto t0 = Clock::now();
      engine.Optimize(one);
      ms.push_back(1000 * Seconds(t0, Clock::now()));
    }
    return Median(ms);
  };
  std::cout << absl::StrFormat(
      "| reference (the original app) | adam | 1 | %d | - | %.2f | - | - | - "
      "| %.1f | %.2f |\n",
      steps, baseline_mean, tracks.size() / baseline.seconds,
      one_track_p50(nio::models::NioMode::kReference, Config{.steps = steps}));
  for (const Config& c : *configs) {
    Run run;
    if (!OptimizeAll(engine, with(nio::models::NioMode::kProjected, c), &run))
      return 1;
    double mean = 0, distance = 0, changed = 0;
    int at_or_above = 0;
    for (size_t i = 0; i < tracks.size(); ++i) {
      const NioResult& r = run.results[i];
      mean += r.prediction_after;
      distance += r.quality.distance_l2;
      changed += r.quality.features_changed;
      if (r.prediction_after >= baseline.results[i].prediction_after)
        ++at_or_above;
    }
    const double n = static_cast<double>(tracks.size());
    const double p50 = one_track_p50(nio::models::NioMode::kProjected, c);
    std::cout << absl::StrFormat(
        "| projected | %s | %d | %d | %s | %.2f | %.1f%% (%d of %d) | %.3f | "
        "%.2f | %.1f | %.2f |\n",
        nio::models::OptimizerName(c.optimizer), c.starts, c.steps,
        c.start_pool > 0 ? std::to_string(c.start_pool) : "-", mean / n,
        100.0 * at_or_above / n, at_or_above, tracks.size(), distance / n,
        changed / n, n / run.seconds, p50);
  }

  // The convergence stop: catalog throughput and prediction lost.
  std::vector<double> tolerances;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_tolerances),
                                               ',', absl::SkipEmpty())) {
    double t = 0;
    if (absl::SimpleAtod(part, &t)) tolerances.push_back(t);
  }
  if (tolerances.empty()) return 0;
  std::vector<TrackRequest> catalog;
  const int n = absl::GetFlag(FLAGS_catalog_tracks);
  for (int i = 0; i < n; ++i) {
    TrackRequest r = tracks[i % tracks.size()];
    r.track.id += "#" + std::to_string(i);
    r.options = {};
    r.options.steps = steps;
    r.options.mode = nio::models::NioMode::kProjected;
    r.options.optimizer = nio::models::Optimizer::kAdam;
    r.options.starts = 1;
    catalog.push_back(std::move(r));
  }
  Run fixed;
  if (!OptimizeAll(engine, catalog, &fixed)) return 1;
  double fixed_mean = 0;
  for (const NioResult& r : fixed.results) fixed_mean += r.prediction_after;
  fixed_mean /= n;
  std::cout << "\n| projected, 1 start, " << n
            << " catalog tracks | tracks/s | vs fixed steps | mean steps run "
               "| mean prediction | lost vs fixed steps |\n"
               "|---|---|---|---|---|---|\n";
  std::cout << absl::StrFormat(
      "| %d fixed steps | %.1f | 1.00x | %d | %.2f | - |\n", steps,
      n / fixed.seconds, steps, fixed_mean);
  for (double t : tolerances) {
    std::vector<TrackRequest> requests = catalog;
    for (TrackRequest& r : requests) {
      r.options.tolerance = t;
      r.options.tolerance_window = absl::GetFlag(FLAGS_window);
    }
    Run run;
    if (!OptimizeAll(engine, requests, &run)) return 1;
    double mean = 0, steps_run = 0;
    for (const NioResult& r : run.results) {
      mean += r.prediction_after;
      steps_run += r.steps_run;
    }
    mean /= n;
    std::cout << absl::StrFormat(
        "| tolerance %g, window %d | %.1f | %.2fx | %.0f | %.2f | %.2f |\n", t,
        absl::GetFlag(FLAGS_window), n / run.seconds,
        fixed.seconds / run.seconds, steps_run / n, mean, fixed_mean - mean);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
