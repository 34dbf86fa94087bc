#include "client/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "models/feature_validity.h"
#include "service/proto_convert.h"

namespace nio::client {
namespace {

constexpr int kBarHalfWidth = 20;

const nio::v1::FeatureInfo* FindFeature(const nio::v1::ModelInfo& info,
                                        const std::string& name) {
  for (const auto& f : info.features()) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

// v with `decimals` decimals; a value that rounds to zero prints without a
// sign ("0.000", never "-0.000").
std::string Fixed(double v, int decimals) {
  std::string text = absl::StrFormat("%.*f", decimals, v);
  if (text[0] == '-' && text.find_first_not_of("-0.") == std::string::npos) {
    text.erase(0, 1);
  }
  return text;
}

// Decimals a person can read for a feature: none for whole-number features
// (key -1..11) and ranges of 1000 and more, one for ranges of 50 and more
// (tempo, loudness), else three.
int Decimals(const nio::v1::FeatureInfo* f) {
  if (f && (f->kind() == "integer" || f->kind() == "binary")) return 0;
  const double width = f ? f->range_max() - f->range_min() : 1.0;
  if (width >= 1000) return 0;
  if (width >= 50) return 1;
  return 3;
}

// A value with as many decimals as its feature calls for.
std::string Value(double v, const nio::v1::FeatureInfo* f) {
  return Fixed(v, Decimals(f));
}

// A change with its sign: "+0.120", "-3.2", "0.000" for no change.
std::string SignedValue(double v, const nio::v1::FeatureInfo* f) {
  const std::string text = Value(v, f);
  return text[0] == '-' || text.find_first_not_of("0.") == std::string::npos
             ? text
             : "+" + text;
}

double RangeFraction(const models::FeatureChange& c,
                     const nio::v1::FeatureInfo* f) {
  const double width = f ? f->range_max() - f->range_min() : 1.0;
  return width > 0 ? c.delta / width : 0.0;
}

std::string ValueRange(double lo, double hi, const nio::v1::FeatureInfo* f) {
  return absl::StrCat(Value(lo, f), "..", Value(hi, f));
}

// The valid range in words, as the server checks it.
std::string ValidText(const nio::v1::FeatureInfo& f) {
  auto spec = service::FromProto(f);
  return spec.ok() ? models::DescribeValidRange(*spec) : "?";
}

// Why the optimization ended, in words.
const char* StopReasonText(models::StopReason reason) {
  switch (reason) {
    case models::StopReason::kSteps:
      return "ran its steps";
    case models::StopReason::kTarget:
      return "reached the target";
    case models::StopReason::kConverged:
      return "converged";
    case models::StopReason::kTimeBudget:
      return "time budget spent";
    case models::StopReason::kCancelled:
      return "cancelled";
  }
  return "ran its steps";
}

}  // namespace

std::string PredictionText(double p) {
  if (p >= 0 && p <= 100) return Fixed(p, 1);
  return absl::StrFormat("%s (model output; as popularity: %d)", Fixed(p, 1),
                         p > 100 ? 100 : 0);
}

std::string ModeLabel(models::NioMode mode) {
  if (mode == models::NioMode::kProjected) return "projected";
  return "reference (the original app's semantics: +-3 clamp each step, "
         "realistic ranges applied after the loop)";
}

std::string RenderModelInfo(const nio::v1::ModelInfo& info) {
  std::string out =
      absl::StrCat("Model    ", info.name(), " ", info.version(), "\n");
  if (!info.description().empty())
    absl::StrAppend(&out, "         ", info.description(), "\n");
  absl::StrAppend(&out, "Backend  ", info.backend(), "\n");
  const auto& d = info.default_options();
  const bool lbfgs = d.optimizer() == nio::v1::OPTIMIZER_LBFGS;
  absl::StrAppend(&out, "Defaults ", lbfgs ? "lbfgs, " : "adam, ", d.steps(),
                  " steps, ", d.has_starts() ? d.starts() : 1, " start(s)",
                  d.start_pool() > 0
                      ? absl::StrCat(" from a pool of ", d.start_pool())
                      : "",
                  lbfgs ? "" : absl::StrCat(", lr ", d.lr()), ", lambda ",
                  d.lambda(), ", mode ",
                  ModeLabel(d.mode() == nio::v1::MODE_PROJECTED
                                ? models::NioMode::kProjected
                                : models::NioMode::kReference),
                  "\n");
  absl::StrAppend(&out,
                  "Modes    projected: each moving feature stays in its box "
                  "(below) in every step;\n"
                  "         reference: the original app's semantics (+-3 "
                  "clamp each step, realistic\n"
                  "         ranges applied after the loop; a result may "
                  "predict lower, see 'improved')\n\n");
  absl::StrAppend(
      &out,
      absl::StrFormat("%-17s %-8s %-26s %-18s %-18s %-7s %s\n", "feature",
                      "kind", "valid", "range", "box", "moves", "description"));
  for (const auto& f : info.features()) {
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "%-17s %-8s %-26s %-18s %-18s %-7s %s\n", f.name(), f.kind(),
            ValidText(f), ValueRange(f.range_min(), f.range_max(), &f),
            // Integer and binary features never move: no box.
            f.kind() == "numeric" ? ValueRange(f.box_min(), f.box_max(), &f)
                                  : std::string("-"),
            f.mutable_by_default() ? "yes" : "no", f.description()));
  }
  absl::StrAppend(&out,
                  "\nvalid: the values a track may give (others are refused); "
                  "integer and binary features never move.\n"
                  "range: the realistic range (reference mode clamps to it "
                  "after the loop).\n"
                  "box:   the range within the trust region |scaled| <= 3, "
                  "where projected mode keeps a feature\n"
                  "       (a track that starts outside keeps its value "
                  "reachable: it is never forced to move).\n"
                  "Predictions are the model's raw output: popularity is "
                  "0..100; above 100 reads as 100, below 0 as 0.\n");
  absl::StrAppend(
      &out, "\nGenres (", info.genres_size(),
      "): ", absl::StrJoin(info.genres().begin(), info.genres().end(), ", "),
      "\n\nPresets:\n");
  for (const auto& p : info.presets()) {
    absl::StrAppend(
        &out, absl::StrFormat("  %-12s %-16s genre %-10s %s\n", p.name(),
                              p.label(), p.track().genre(), p.description()));
  }
  return out;
}

std::vector<std::string> Suggestions(const models::NioResult& result,
                                     const nio::v1::ModelInfo& info) {
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& c : result.changes) {
    const auto* f = FindFeature(info, c.name);
    const double frac = RangeFraction(c, f);
    if (std::fabs(frac) < 0.01) continue;
    ranked.emplace_back(
        std::fabs(frac),
        absl::StrCat(c.delta > 0 ? "raise " : "lower ", c.name, " ",
                     Value(c.original, f), " -> ", Value(c.optimized, f)));
  }
  std::sort(ranked.begin(), ranked.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (const auto& [_, text] : ranked) out.push_back(text);
  return out;
}

namespace {

// The per-feature table and the bar chart of a result's changes.
std::string ChangeTable(const models::NioResult& r,
                        const nio::v1::ModelInfo& info) {
  std::string out =
      absl::StrFormat("%-17s %12s %12s %12s   %s\n", "feature", "original",
                      "optimized", "delta", "box (projected mode)");
  for (const auto& c : r.changes) {
    const auto* f = FindFeature(info, c.name);
    absl::StrAppend(
        &out, absl::StrFormat(
                  "%-17s %12s %12s %12s   %s\n", c.name, Value(c.original, f),
                  Value(c.optimized, f), SignedValue(c.delta, f),
                  f ? ValueRange(f->box_min(), f->box_max(), f) : ""));
  }
  absl::StrAppend(&out,
                  "\nChange, as a share of each feature's realistic range:\n");
  for (const auto& c : r.changes) {
    const double frac =
        std::clamp(RangeFraction(c, FindFeature(info, c.name)), -1.0, 1.0);
    const int n =
        static_cast<int>(std::lround(std::fabs(frac) * kBarHalfWidth));
    std::string left(kBarHalfWidth, ' '), right(kBarHalfWidth, ' ');
    for (int i = 0; i < n; ++i)
      (frac < 0 ? left[kBarHalfWidth - 1 - i] : right[i]) = '#';
    absl::StrAppend(
        &out, absl::StrFormat("%-17s %s|%s %5s%%\n", c.name, left, right,
                              std::lround(100 * frac) == 0
                                  ? "0"
                                  : absl::StrFormat("%+.0f", 100 * frac)));
  }
  return out;
}

}  // namespace

std::string RenderOptimizeReport(const ResultRecord& record,
                                 const nio::v1::ModelInfo& info,
                                 const ReportOptions& options) {
  const models::NioResult& r = record.outcome.result;
  std::string out =
      absl::StrCat("Track '", record.id, "', genre ",
                   record.genre.empty() ? "?" : record.genre, "\n\n");
  absl::StrAppend(&out, "  Mode                ", ModeLabel(options.mode),
                  "\n");
  absl::StrAppend(&out, "  Popularity before   ",
                  PredictionText(r.prediction_before), "\n");
  absl::StrAppend(
      &out,
      absl::StrFormat(
          "  %-19s %s   (%s)\n",
          r.quality.improved ? "Popularity after" : "Best feasible point",
          PredictionText(r.prediction_after),
          Fixed(r.delta, 1) == "0.0" ? "0.0"
                                     : absl::StrFormat("%+.1f", r.delta)));
  if (std::fabs(r.prediction_raw - r.prediction_after) > 0.05) {
    absl::StrAppend(&out, "  Unclamped optimum   ",
                    PredictionText(r.prediction_raw),
                    "   (before clamping features to realistic ranges)\n");
  }
  const models::ResultQuality& q = r.quality;
  absl::StrAppend(&out,
                  absl::StrFormat("  Steps run           %d (stopped: %s)\n",
                                  r.steps_run, StopReasonText(q.stop_reason)));
  absl::StrAppend(&out,
                  absl::StrFormat("  Optimizer           %s, %d start%s\n",
                                  models::OptimizerName(q.optimizer), q.starts,
                                  q.starts == 1 ? "" : "s"));
  if (q.winning_start > 0) {
    absl::StrAppend(&out, absl::StrFormat("  Winning start       %d (0 is the "
                                          "track as given)\n",
                                          q.winning_start));
  }
  if (q.target_reached) {
    absl::StrAppend(&out, "  Target              ",
                    *q.target_reached ? "reached" : "not reached", "\n");
  }
  absl::StrAppend(
      &out, absl::StrFormat("  Features changed    %d (distance %.3f scaled "
                            "L2, %.3f of the ranges L1)\n",
                            q.features_changed, q.distance_l2, q.distance_l1));
  absl::StrAppend(&out, absl::StrFormat("  Objective           %.4f (lower is "
                                        "better: -prediction + lambda x "
                                        "mean squared scaled change)\n\n",
                                        q.objective));
  if (!r.quality.improved) {
    absl::StrAppend(
        &out,
        "No improving change found: the best feasible point the optimizer "
        "reached does not\n"
        "predict higher than the track as it is. Keep the track as it is.\n");
    if (!options.show_best) {
      absl::StrAppend(
          &out, "(--show-best shows that point; it is not a suggestion.)\n");
      return out;
    }
    absl::StrAppend(&out, "\nBest feasible point (not a suggestion):\n\n",
                    ChangeTable(r, info));
    return out;
  }
  const auto suggestions = Suggestions(r, info);
  absl::StrAppend(&out, "Suggestions:\n");
  if (suggestions.empty())
    absl::StrAppend(
        &out, "  (none: the track is already near what the model likes)\n");
  for (const auto& s : suggestions) absl::StrAppend(&out, "  - ", s, "\n");
  absl::StrAppend(&out, "\n", ChangeTable(r, info));
  return out;
}

}  // namespace nio::client
