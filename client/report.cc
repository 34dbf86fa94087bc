#include "client/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace nio::client {
namespace {

constexpr int kBarHalfWidth = 20;

const nio::v1::FeatureInfo* FindFeature(const nio::v1::ModelInfo& info, const std::string& name) {
  for (const auto& f : info.features()) {
    if (f.name() == name) return &f;
  }
  return nullptr;
}

// A value with as many decimals as its feature's range calls for.
std::string Value(double v, const nio::v1::FeatureInfo* f) {
  const double width = f ? f->range_max() - f->range_min() : 1.0;
  if (width >= 1000) return absl::StrFormat("%.0f", v);
  if (width >= 50) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.3f", v);
}

double RangeFraction(const models::FeatureChange& c, const nio::v1::FeatureInfo* f) {
  const double width = f ? f->range_max() - f->range_min() : 1.0;
  return width > 0 ? c.delta / width : 0.0;
}

}  // namespace

std::string RenderModelInfo(const nio::v1::ModelInfo& info) {
  std::string out = absl::StrCat("Model    ", info.name(), " ", info.version(), "\n");
  if (!info.description().empty()) absl::StrAppend(&out, "         ", info.description(), "\n");
  absl::StrAppend(&out, "Backend  ", info.backend(), "\n");
  const auto& d = info.default_options();
  absl::StrAppend(&out, "Defaults ", d.steps(), " steps, lr ", d.lr(), ", lambda ", d.lambda(), ", mode ",
                  d.mode() == nio::v1::MODE_PROJECTED ? "projected" : "reference", "\n\n");
  absl::StrAppend(&out, absl::StrFormat("%-17s %-8s %-18s %-7s %s\n", "feature", "kind", "range", "moves",
                                        "description"));
  for (const auto& f : info.features()) {
    absl::StrAppend(&out, absl::StrFormat("%-17s %-8s %-18s %-7s %s\n", f.name(), f.kind(),
                                          absl::StrCat(Value(f.range_min(), &f), "..", Value(f.range_max(), &f)),
                                          f.mutable_by_default() ? "yes" : "no", f.description()));
  }
  absl::StrAppend(&out, "\nGenres (", info.genres_size(), "): ",
                  absl::StrJoin(info.genres().begin(), info.genres().end(), ", "), "\n\nPresets:\n");
  for (const auto& p : info.presets()) {
    absl::StrAppend(&out, absl::StrFormat("  %-12s %-16s genre %-10s %s\n", p.name(), p.label(),
                                          p.track().genre(), p.description()));
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
    ranked.emplace_back(std::fabs(frac), absl::StrCat(c.delta > 0 ? "raise " : "lower ", c.name, " ",
                                                      Value(c.original, f), " -> ", Value(c.optimized, f)));
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (const auto& [_, text] : ranked) out.push_back(text);
  return out;
}

std::string RenderOptimizeReport(const models::NioResult& r, const nio::v1::ModelInfo& info) {
  std::string out = absl::StrCat("Track ", r.id, "\n\n");
  absl::StrAppend(&out, absl::StrFormat("  Popularity before   %6.1f\n", r.prediction_before));
  absl::StrAppend(&out, absl::StrFormat("  Popularity after    %6.1f   (%+.1f)\n", r.prediction_after, r.delta));
  if (std::fabs(r.prediction_raw - r.prediction_after) > 0.05) {
    absl::StrAppend(&out, absl::StrFormat(
                              "  Unclamped optimum   %6.1f   (before clamping features to realistic ranges)\n",
                              r.prediction_raw));
  }
  absl::StrAppend(&out, absl::StrFormat("  Steps run           %6d\n\n", r.steps_run));
  const auto suggestions = Suggestions(r, info);
  absl::StrAppend(&out, "Suggestions:\n");
  if (suggestions.empty()) absl::StrAppend(&out, "  (none: the track is already near what the model likes)\n");
  for (const auto& s : suggestions) absl::StrAppend(&out, "  - ", s, "\n");
  absl::StrAppend(&out, absl::StrFormat("\n%-17s %12s %12s %12s\n", "feature", "original", "optimized", "delta"));
  for (const auto& c : r.changes) {
    const auto* f = FindFeature(info, c.name);
    absl::StrAppend(&out, absl::StrFormat("%-17s %12s %12s %12s\n", c.name, Value(c.original, f),
                                          Value(c.optimized, f),
                                          (c.delta >= 0 ? "+" : "") + Value(c.delta, f)));
  }
  absl::StrAppend(&out, "\nChange, as a share of each feature's realistic range:\n");
  for (const auto& c : r.changes) {
    const double frac = std::clamp(RangeFraction(c, FindFeature(info, c.name)), -1.0, 1.0);
    const int n = static_cast<int>(std::lround(std::fabs(frac) * kBarHalfWidth));
    std::string left(kBarHalfWidth, ' '), right(kBarHalfWidth, ' ');
    for (int i = 0; i < n; ++i) (frac < 0 ? left[kBarHalfWidth - 1 - i] : right[i]) = '#';
    absl::StrAppend(&out, absl::StrFormat("%-17s %s|%s %+5.0f%%\n", c.name, left, right, 100 * frac));
  }
  return out;
}

nlohmann::json ResultJson(const models::NioResult& r) {
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& c : r.changes) {
    changes.push_back({{"name", c.name}, {"original", c.original}, {"optimized", c.optimized},
                       {"delta", c.delta}, {"unclamped", c.unclamped}});
  }
  return {{"id", r.id},
          {"prediction_before", r.prediction_before},
          {"prediction_raw", r.prediction_raw},
          {"prediction_after", r.prediction_after},
          {"delta", r.delta},
          {"steps_run", r.steps_run},
          {"changes", changes}};
}

}  // namespace nio::client
