// The per-track options of better suggestions, end to end through the
// in-process engine (the server's scheduler and the CPU backend) on the
// bundled model: starts, target, convergence stop, time budget, direction
// constraints and the change budget, each checked on the reported result.
#include <cmath>
#include <random>
#include <set>

#include "gtest/gtest.h"
#include "models/model.h"
#include "service/optimizer.h"

namespace nio::service {
namespace {

using models::Direction;
using models::NioResult;
using models::StopReason;

class NioOptionsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto model = models::LoadModel(models::DefaultModelDir());
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new models::Model(std::move(*model));
    SchedulerOptions o;
    o.backend = kernels::BackendChoice::kCpu;
    o.max_batch = 1024;
    o.compute.threads = 2;
    auto opt = Optimizer::Create(*model_, o);
    ASSERT_TRUE(opt.ok()) << opt.status();
    optimizer_ = opt->release();
  }
  static void TearDownTestSuite() {
    delete optimizer_;
    delete model_;
  }

  // A varied track: features drawn inside their boxes, a genre by index.
  static TrackRequest Track(const std::string& id, uint32_t seed) {
    std::mt19937 rng(seed);
    const models::ModelSpec& spec = model_->spec;
    TrackRequest r;
    r.track.id = id;
    r.track.genre =
        spec.categorical.values[rng() % spec.categorical.values.size()];
    for (const models::FeatureSpec& f : spec.features) {
      if (!f.mutable_by_default) continue;
      std::uniform_real_distribution<double> u(f.range_min, f.range_max);
      double v = u(rng);
      if (f.name == "tempo") v = std::max(v, 61.0);
      r.track.features.emplace_back(f.name, v);
    }
    return r;
  }

  static NioResult Run(const TrackRequest& r) {
    const auto out = optimizer_->Optimize({r});
    EXPECT_TRUE(out[0].status.ok()) << out[0].status;
    return out[0].result;
  }

  // A track alone and inside a crowd: the same answer within 1e-5.
  static void ExpectSameAnswer(const NioResult& expected,
                               const NioResult& got) {
    ASSERT_EQ(got.id, expected.id);
    EXPECT_NEAR(got.prediction_after, expected.prediction_after, 1e-5);
    EXPECT_EQ(got.quality.winning_start, expected.quality.winning_start);
    EXPECT_EQ(got.steps_run, expected.steps_run);
    ASSERT_EQ(got.changes.size(), expected.changes.size());
    for (size_t c = 0; c < got.changes.size(); ++c) {
      EXPECT_NEAR(got.changes[c].optimized, expected.changes[c].optimized,
                  1e-5 * (1 + std::fabs(expected.changes[c].optimized)));
    }
  }

  static const models::FeatureChange* Change(const NioResult& r,
                                             const std::string& name) {
    for (const auto& c : r.changes) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }

  static models::Model* model_;
  static Optimizer* optimizer_;
};
models::Model* NioOptionsTest::model_ = nullptr;
Optimizer* NioOptionsTest::optimizer_ = nullptr;

TEST_F(NioOptionsTest, MoreStartsNeverAnswerWorseAndSayWhichStartWon) {
  // Start 0 of K starts is the one-start run, row for row: the best of K by
  // the objective can only be as good or better.
  int better = 0;
  for (int t = 0; t < 12; ++t) {
    TrackRequest one = Track("t" + std::to_string(t), 100 + t);
    one.options.steps = 60;
    one.options.starts = 1;
    TrackRequest eight = one;
    eight.options.starts = 8;
    const NioResult a = Run(one);
    const NioResult b = Run(eight);
    EXPECT_EQ(a.quality.winning_start, 0);
    EXPECT_GE(b.quality.winning_start, 0);
    EXPECT_LT(b.quality.winning_start, 8);
    EXPECT_LE(b.quality.objective, a.quality.objective) << one.track.id;
    if (b.quality.objective < a.quality.objective) ++better;
    EXPECT_EQ(b.quality.stop_reason, StopReason::kSteps);
    EXPECT_EQ(b.steps_run, 60);
  }
  EXPECT_GT(better, 0) << "no track gained from 8 starts";
}

TEST_F(NioOptionsTest, ATrackAloneIsTheSameInsideAThousandOthers) {
  TrackRequest probe = Track("probe", 7);
  probe.options.steps = 40;
  probe.options.starts = 8;
  probe.options.tolerance = 1e-4;
  probe.options.tolerance_window = 5;
  TrackRequest with_target = Track("target-probe", 8);
  with_target.options.steps = 40;
  with_target.options.starts = 4;
  const NioResult alone = Run(probe);
  with_target.options.target = Run(with_target).prediction_before + 2;
  const NioResult target_alone = Run(with_target);

  std::vector<TrackRequest> crowd;
  for (int t = 0; t < 1000; ++t) {
    TrackRequest r = Track("c" + std::to_string(t), 5000 + t);
    r.options.steps = 10 + t % 40;
    r.options.starts = 1 + t % 3;
    if (t == 300) crowd.push_back(probe);
    if (t == 700) crowd.push_back(with_target);
    crowd.push_back(std::move(r));
  }
  const auto out = optimizer_->Optimize(crowd);
  for (const auto& o : out) ASSERT_TRUE(o.status.ok()) << o.status;
  for (const auto& [expected, got] :
       {std::pair{&alone, &out[300].result},
        std::pair{&target_alone, &out[701].result}}) {
    ExpectSameAnswer(*expected, *got);
  }
  // The same request twice: the same answer, bit for bit.
  const NioResult again = Run(probe);
  EXPECT_EQ(again.prediction_after, alone.prediction_after);
  EXPECT_EQ(again.quality.objective, alone.quality.objective);
}

// L-BFGS rows beside Adam rows of other tracks, in every phase of their
// line searches: a track is what it is alone.
TEST_F(NioOptionsTest, LbfgsTracksAreTheSameAloneAndAmongAdamTracks) {
  TrackRequest probe = Track("lbfgs-probe", 11);
  probe.options.optimizer = models::Optimizer::kLbfgs;
  probe.options.starts = 8;
  probe.options.steps = 30;
  TrackRequest pooled = Track("pool-probe", 12);
  pooled.options.optimizer = models::Optimizer::kLbfgs;
  pooled.options.starts = 8;
  pooled.options.steps = 15;
  pooled.options.start_pool = 64;
  const NioResult alone = Run(probe);
  const NioResult pooled_alone = Run(pooled);
  std::vector<TrackRequest> crowd;
  for (int t = 0; t < 1000; ++t) {
    TrackRequest r = Track("m" + std::to_string(t), 9000 + t);
    r.options.steps = 5 + t % 40;
    if (t % 2 == 0) {
      r.options.optimizer = models::Optimizer::kLbfgs;
      r.options.starts = 1 + t % 4;
    }
    if (t == 100) crowd.push_back(probe);
    if (t == 600) crowd.push_back(pooled);
    crowd.push_back(std::move(r));
  }
  const auto out = optimizer_->Optimize(crowd);
  for (const auto& o : out) ASSERT_TRUE(o.status.ok()) << o.status;
  for (const auto& [expected, got] :
       {std::pair{&alone, &out[100].result},
        std::pair{&pooled_alone, &out[601].result}}) {
    ExpectSameAnswer(*expected, *got);
  }
  const NioResult again = Run(probe);
  EXPECT_EQ(again.prediction_after, alone.prediction_after);
  EXPECT_EQ(again.quality.objective, alone.quality.objective);
}

// The fast path's promise, on the bundled model: 8 starts x 30 L-BFGS steps
// answer better than one Adam start x 300 steps on average and at least as
// well on most tracks, and never worse than the track itself.
TEST_F(NioOptionsTest, LbfgsEightStartsThirtyStepsBeatsAdamThreeHundred) {
  std::vector<TrackRequest> adam, lbfgs;
  for (int t = 0; t < 40; ++t) {
    TrackRequest r = Track("q" + std::to_string(t), 300 + t);
    r.options.mode = models::NioMode::kProjected;
    r.options.optimizer = models::Optimizer::kAdam;
    r.options.starts = 1;
    r.options.steps = 300;
    adam.push_back(r);
    r.options.optimizer = models::Optimizer::kLbfgs;
    r.options.starts = 8;
    r.options.steps = 30;
    lbfgs.push_back(r);
  }
  const auto a = optimizer_->Optimize(adam);
  const auto l = optimizer_->Optimize(lbfgs);
  int at_least = 0;
  double adam_mean = 0, lbfgs_mean = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(a[i].status.ok() && l[i].status.ok());
    EXPECT_GE(l[i].result.prediction_after, l[i].result.prediction_before)
        << l[i].result.id;
    EXPECT_LE(l[i].result.steps_run, 30);
    at_least +=
        l[i].result.quality.objective <= a[i].result.quality.objective + 1e-3;
    adam_mean += a[i].result.quality.objective / a.size();
    lbfgs_mean += l[i].result.quality.objective / a.size();
  }
  EXPECT_LT(lbfgs_mean, adam_mean);
  EXPECT_GE(at_least, 30) << "of 40";
}

// A start pool scores its points with one forward pass: the chosen starts
// are the pool's best, so the answers are better than uniform starts' on
// average, and deterministic.
TEST_F(NioOptionsTest, AStartPoolPicksTheBestPoolPointsAsStarts) {
  double uniform_mean = 0, pooled_mean = 0;
  for (int t = 0; t < 20; ++t) {
    TrackRequest r = Track("p" + std::to_string(t), 700 + t);
    r.options.optimizer = models::Optimizer::kLbfgs;
    r.options.starts = 4;
    r.options.steps = 15;
    const NioResult uniform = Run(r);
    r.options.start_pool = 256;
    const NioResult pooled = Run(r);
    EXPECT_EQ(Run(r).quality.objective, pooled.quality.objective);
    uniform_mean += uniform.quality.objective / 20;
    pooled_mean += pooled.quality.objective / 20;
  }
  EXPECT_LT(pooled_mean, uniform_mean);
}

TEST_F(NioOptionsTest, ATargetStopsAtTheFirstPointThatReachesIt) {
  TrackRequest r = Track("target", 21);
  r.options.steps = 300;
  const NioResult full = Run(r);
  ASSERT_GT(full.delta, 3) << "the probe track should gain a few points";
  r.options.target = full.prediction_before + full.delta / 3;
  const NioResult stopped = Run(r);
  EXPECT_EQ(stopped.quality.stop_reason, StopReason::kTarget);
  ASSERT_TRUE(stopped.quality.target_reached.has_value());
  EXPECT_TRUE(*stopped.quality.target_reached);
  EXPECT_GE(stopped.prediction_after, *r.options.target - 1e-3);
  EXPECT_LT(stopped.steps_run, full.steps_run);
  // The first point that reached it: a smaller change than the full run's.
  EXPECT_LT(stopped.quality.distance_l2, full.quality.distance_l2);

  // Out of reach: every step runs, and the result says so.
  r.options.target = 1000;
  const NioResult missed = Run(r);
  EXPECT_EQ(missed.quality.stop_reason, StopReason::kSteps);
  ASSERT_TRUE(missed.quality.target_reached.has_value());
  EXPECT_FALSE(*missed.quality.target_reached);
  EXPECT_EQ(missed.steps_run, 300);
  EXPECT_FALSE(full.quality.target_reached.has_value());

  // Reference mode reports the post-hoc clamped final point: no target.
  r.options.mode = models::NioMode::kReference;
  const auto refused = optimizer_->Optimize({r});
  EXPECT_EQ(refused[0].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused[0].status.message().find("options.target"),
            std::string::npos)
      << refused[0].status;
}

TEST_F(NioOptionsTest, AToleranceStopsEachStartWhenItStallsAndLosesLittle) {
  TrackRequest r = Track("converge", 33);
  r.options.optimizer = models::Optimizer::kAdam;
  r.options.starts = 1;
  r.options.steps = 2000;
  const NioResult full = Run(r);
  r.options.tolerance = 1e-4;
  r.options.tolerance_window = 10;
  const NioResult early = Run(r);
  EXPECT_EQ(early.quality.stop_reason, StopReason::kConverged);
  EXPECT_LT(early.steps_run, 2000);
  EXPECT_GT(early.prediction_after, full.prediction_after - 1.0);

  TrackRequest bad = r;
  bad.options.tolerance = -1;
  const auto refused = optimizer_->Optimize({bad});
  EXPECT_EQ(refused[0].status.code(), absl::StatusCode::kInvalidArgument);
}

// An L-BFGS start's window counts its iterations, not the evaluations of
// its line searches. Over a few tracks: far fewer steps, little lost on
// average (a start on the network's kinks may stall and gain again later,
// so one track may lose more).
TEST_F(NioOptionsTest, AToleranceStopsLbfgsStartsAndLosesLittle) {
  double lost = 0, steps = 0;
  const int n = 10;
  for (int t = 0; t < n; ++t) {
    TrackRequest r = Track("converge-lbfgs" + std::to_string(t), 33 + t);
    r.options.optimizer = models::Optimizer::kLbfgs;
    r.options.steps = 2000;
    const NioResult full = Run(r);
    r.options.tolerance = 1e-4;
    r.options.tolerance_window = 10;
    const NioResult early = Run(r);
    EXPECT_EQ(early.quality.stop_reason, StopReason::kConverged);
    lost += (full.prediction_after - early.prediction_after) / n;
    steps += static_cast<double>(early.steps_run) / n;
  }
  EXPECT_LT(steps, 1000);
  EXPECT_LT(lost, 1.0);
}

TEST_F(NioOptionsTest, ATimeBudgetAnswersWithTheBestPointSoFar) {
  TrackRequest r = Track("budget", 44);
  r.options.steps = models::kMaxSteps;  // would take many seconds
  r.options.starts = 4;
  r.options.time_budget_ms = 50;
  const NioResult result = Run(r);
  EXPECT_EQ(result.quality.stop_reason, StopReason::kTimeBudget);
  EXPECT_GE(result.steps_run, 1);
  EXPECT_LT(result.steps_run, models::kMaxSteps);
  // The best point evaluated includes the track itself at step 1.
  EXPECT_LE(result.quality.objective, -result.prediction_before + 1e-4);
}

TEST_F(NioOptionsTest, DirectionsAndTheChangeBudgetHoldForTheReportedResult) {
  TrackRequest r = Track("constrained", 55);
  r.options.starts = 4;
  r.options.steps = 100;
  r.options.bounds["energy"].direction = Direction::kDecrease;
  r.options.bounds["danceability"].direction = Direction::kIncrease;
  r.options.max_changed_features = 2;
  const NioResult result = Run(r);
  EXPECT_LE(result.quality.features_changed, 2);
  int changed = 0;
  for (const auto& c : result.changes) changed += c.optimized != c.original;
  EXPECT_EQ(changed, result.quality.features_changed);
  if (const auto* e = Change(result, "energy")) {
    EXPECT_LE(e->optimized, e->original);
  }
  if (const auto* d = Change(result, "danceability")) {
    EXPECT_GE(d->optimized, d->original);
  }
}

TEST_F(NioOptionsTest, WithSeveralStartsATargetAnswersWithTheSmallestChange) {
  TrackRequest r = Track("reached", 66);
  r.options.starts = 8;
  r.options.steps = 300;
  // Already reached by the track as given: nothing changes, whatever the
  // random starts reach.
  r.options.target = Run(r).prediction_before - 5;
  const NioResult as_is = Run(r);
  EXPECT_EQ(as_is.quality.stop_reason, StopReason::kTarget);
  EXPECT_EQ(as_is.quality.winning_start, 0);
  EXPECT_EQ(as_is.quality.features_changed, 0);
  EXPECT_EQ(as_is.steps_run, 1);
  // Within reach: the answer is no bigger a change than one start's.
  TrackRequest one = r;
  one.options.starts = 1;
  one.options.target = as_is.prediction_before + 2;
  r.options.target = one.options.target;
  const NioResult single = Run(one);
  const NioResult eight = Run(r);
  ASSERT_EQ(single.quality.stop_reason, StopReason::kTarget);
  ASSERT_EQ(eight.quality.stop_reason, StopReason::kTarget);
  EXPECT_LE(eight.quality.distance_l2, single.quality.distance_l2 + 1e-6);
}

TEST_F(NioOptionsTest, AChangeBudgetKeepsTheFeaturesItsLimitsForceToMove) {
  TrackRequest r = Track("forced", 77);
  for (auto& [name, value] : r.track.features) {
    if (name == "energy") value = 0.35;
  }
  r.options.bounds["energy"].min = 0.7;
  r.options.bounds["energy"].max = 0.9;
  for (int budget : {1, 2}) {
    r.options.max_changed_features = budget;
    const NioResult result = Run(r);
    const auto* energy = Change(result, "energy");
    ASSERT_NE(energy, nullptr) << "budget " << budget;
    EXPECT_GE(energy->optimized, 0.7 - 1e-9);
    EXPECT_LE(energy->optimized, 0.9 + 1e-9);
    EXPECT_LE(result.quality.features_changed, budget);
  }
  // Two forced features cannot fit a budget of one: refused, naming both.
  r.options.bounds["danceability"].min = 0.99;
  for (auto& [name, value] : r.track.features) {
    if (name == "danceability") value = 0.2;
  }
  r.options.max_changed_features = 1;
  const auto refused = optimizer_->Optimize({r});
  EXPECT_EQ(refused[0].status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused[0].status.message().find("energy"), std::string::npos)
      << refused[0].status;
  EXPECT_NE(refused[0].status.message().find("danceability"),
            std::string::npos);
}

// Every constraint is an invariant of the reported result in raw units,
// over many random tracks and random constraint sets.
TEST_F(NioOptionsTest, RandomConstraintsAreNeverViolated) {
  const models::ModelSpec& spec = model_->spec;
  std::vector<std::string> movable;
  for (const auto& f : spec.features) {
    if (f.mutable_by_default) movable.push_back(f.name);
  }
  std::mt19937 rng(2026);
  std::vector<TrackRequest> requests;
  for (int t = 0; t < 2000; ++t) {
    TrackRequest r = Track("p" + std::to_string(t), 90000 + t);
    r.options.steps = 30;
    r.options.starts = 1 + rng() % 3;
    for (const std::string& name : movable) {
      if (rng() % 3 == 0) continue;
      r.options.mutable_features.push_back(name);
    }
    if (r.options.mutable_features.empty())
      r.options.mutable_features.push_back(movable[rng() % movable.size()]);
    for (const std::string& name : r.options.mutable_features) {
      const auto& f = spec.features[spec.FeatureIndex(name)];
      const double span = f.range_max - f.range_min;
      // Each limit on its own or several on one feature.
      models::FeatureBounds b;
      bool any = false;
      if (const uint32_t d = rng() % 4; d < 2) {
        b.direction = d == 0 ? Direction::kIncrease : Direction::kDecrease;
        any = true;
      }
      if (rng() % 3 == 0) {
        b.max_delta = span * (rng() % 100) / 1000.0;
        any = true;
      }
      if (rng() % 5 == 0) {
        const double lo = f.range_min + span * (rng() % 50) / 100.0;
        b.min = lo;
        b.max = lo + span * (1 + rng() % 50) / 100.0;
        any = true;
      }
      if (any) r.options.bounds[name] = b;
    }
    if (t % 4 == 0) r.options.mode = models::NioMode::kReference;
    if (t % 4 == 1) {
      r.options.optimizer = models::Optimizer::kLbfgs;
      r.options.starts = 2 + rng() % 3;
      if (rng() % 2 == 0) r.options.start_pool = 16;
    }
    if (rng() % 3 == 0) r.options.max_changed_features = 1 + rng() % 3;
    requests.push_back(std::move(r));
  }
  const auto out = optimizer_->Optimize(requests);
  int violations = 0;
  int ran = 0;
  // Raw values are doubles built from floats: a limit holds up to the
  // rounding of one subtraction of such values.
  auto near_le = [](double a, double b) {
    return a <= b + 1e-9 * (1 + std::fabs(b));
  };
  for (size_t i = 0; i < out.size(); ++i) {
    const TrackRequest& r = requests[i];
    if (!out[i].status.ok()) {
      // Only limits that leave no value, or a change budget smaller than
      // the features they force to move, may fail.
      const auto& m = out[i].status.message();
      EXPECT_TRUE(m.find("empty range") != std::string::npos ||
                  m.find("exclude their original value") != std::string::npos)
          << out[i].status;
      continue;
    }
    ++ran;
    const NioResult& res = out[i].result;
    int changed = 0;
    for (const auto& c : res.changes) {
      const auto& f = spec.features[spec.FeatureIndex(c.name)];
      const auto b = r.options.bounds.count(c.name)
                         ? r.options.bounds.at(c.name)
                         : models::FeatureBounds{};
      bool ok = true;
      if (c.optimized != c.original) {
        ++changed;
        // Inside the realistic range unless it started outside it (in
        // reference mode: inside it, always).
        ok = ok && near_le(std::min(f.range_min, c.original), c.optimized) &&
             near_le(c.optimized, std::max(f.range_max, c.original));
      }
      if (r.options.mode == models::NioMode::kReference) {
        ok = ok && near_le(f.range_min, c.optimized) &&
             near_le(c.optimized, f.range_max);
      }
      // The caller's limits hold whether or not the feature moved.
      if (b.min) ok = ok && near_le(*b.min, c.optimized);
      if (b.max) ok = ok && near_le(c.optimized, *b.max);
      if (b.max_delta)
        ok = ok && near_le(std::fabs(c.optimized - c.original), *b.max_delta);
      if (b.direction == Direction::kIncrease)
        ok = ok && c.optimized >= c.original;
      if (b.direction == Direction::kDecrease)
        ok = ok && c.optimized <= c.original;
      if (!ok) {
        ++violations;
        ADD_FAILURE() << res.id << " " << c.name << ": " << c.original << " -> "
                      << c.optimized;
      }
    }
    // A feature the change budget left out keeps its original value,
    // which must satisfy its limits too.
    for (const std::string& name : r.options.mutable_features) {
      if (Change(res, name) != nullptr) continue;
      double original = 0;
      for (const auto& [n, v] : r.track.features) {
        if (n == name) original = v;
      }
      const auto b = r.options.bounds.count(name) ? r.options.bounds.at(name)
                                                  : models::FeatureBounds{};
      if ((b.min && !near_le(*b.min, original)) ||
          (b.max && !near_le(original, *b.max))) {
        ++violations;
        ADD_FAILURE() << res.id << " " << name << " left at " << original
                      << " outside its limits";
      }
    }
    EXPECT_EQ(changed, res.quality.features_changed) << res.id;
    if (r.options.max_changed_features &&
        changed > *r.options.max_changed_features) {
      ++violations;
      ADD_FAILURE() << res.id << ": " << changed << " features changed, budget "
                    << *r.options.max_changed_features;
    }
  }
  EXPECT_GT(ran, 1000);
  EXPECT_EQ(violations, 0);
}

TEST_F(NioOptionsTest, BadOptionsNameTheirField) {
  struct Case {
    std::function<void(models::NioOptions&)> set;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& o) { o.starts = 0; }, "options.starts"},
      {[](auto& o) { o.starts = 65; }, "options.starts"},
      {[](auto& o) { o.target = NAN; }, "options.target"},
      {[](auto& o) { o.tolerance = 2; }, "options.tolerance"},
      {[](auto& o) {
         o.tolerance = 0.01;
         o.tolerance_window = 0;
       },
       "options.tolerance_window"},
      {[](auto& o) { o.time_budget_ms = 0; }, "options.time_budget_ms"},
      {[](auto& o) { o.tolerance_window = 5; }, "options.tolerance_window"},
      {[](auto& o) { o.max_changed_features = 0; },
       "options.max_changed_features"},
      {[](auto& o) {
         o.optimizer = models::Optimizer::kLbfgs;
         o.mode = models::NioMode::kReference;
       },
       "options.optimizer"},
      {[](auto& o) {
         o.optimizer = models::Optimizer::kLbfgs;
         o.lr = 0.1;
       },
       "options.lr"},
      {[](auto& o) {
         o.starts = 1;
         o.start_pool = 8;
       },
       "options.start_pool"},
      {[](auto& o) {
         o.starts = 8;
         o.start_pool = 3;
       },
       "options.start_pool"},
      {[](auto& o) {
         o.starts = 2;
         o.start_pool = 5000;
       },
       "options.start_pool"},
  };
  for (const Case& c : cases) {
    TrackRequest r = Track("bad", 1);
    c.set(r.options);
    const auto out = optimizer_->Optimize({r});
    EXPECT_EQ(out[0].status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(out[0].status.message().find(c.field), std::string::npos)
        << out[0].status;
  }
}

}  // namespace
}  // namespace nio::service
