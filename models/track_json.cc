#include "models/track_json.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace nio::models {
namespace {

using Json = nlohmann::json;

absl::Status Bad(const std::string& source, const std::string& path,
                 const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": ", path, ": ", what));
}

absl::StatusOr<double> Number(const Json& j, const std::string& source,
                              const std::string& path) {
  if (!j.is_number()) return Bad(source, path, "must be a number");
  return j.get<double>();
}

absl::StatusOr<int> Integer(const Json& j, const std::string& source,
                            const std::string& path) {
  if (!j.is_number_integer()) return Bad(source, path, "must be an integer");
  return static_cast<int>(
      std::clamp<int64_t>(j.get<int64_t>(), INT32_MIN, INT32_MAX));
}

absl::StatusOr<Direction> ParseDirection(const Json& j,
                                         const std::string& source,
                                         const std::string& path) {
  if (j.is_string()) {
    const std::string d = j.get<std::string>();
    if (d == "any") return Direction::kAny;
    if (d == "increase") return Direction::kIncrease;
    if (d == "decrease") return Direction::kDecrease;
  }
  return Bad(source, path, "must be \"any\", \"increase\" or \"decrease\"");
}

absl::StatusOr<NioOptions> ParseOptions(const Json& j,
                                        const std::string& source,
                                        const std::string& path) {
  NioOptions o;
  if (!j.is_object()) return Bad(source, path, "must be an object");
  for (const auto& [key, value] : j.items()) {
    const std::string at = absl::StrCat(path, ".", key);
    if (key == "steps") {
      if (!value.is_number_integer())
        return Bad(source, at, "must be an integer");
      const int64_t steps = value.get<int64_t>();
      o.steps =
          static_cast<int>(std::clamp<int64_t>(steps, INT32_MIN, INT32_MAX));
    } else if (key == "lr" || key == "lambda" || key == "target" ||
               key == "tolerance") {
      auto v = Number(value, source, at);
      if (!v.ok()) return v.status();
      (key == "lr"       ? o.lr
       : key == "lambda" ? o.lambda
       : key == "target" ? o.target
                         : o.tolerance) = *v;
    } else if (key == "starts" || key == "tolerance_window" ||
               key == "time_budget_ms" || key == "max_changed_features" ||
               key == "start_pool") {
      auto v = Integer(value, source, at);
      if (!v.ok()) return v.status();
      (key == "starts"             ? o.starts
       : key == "tolerance_window" ? o.tolerance_window
       : key == "time_budget_ms"   ? o.time_budget_ms
       : key == "start_pool"       ? o.start_pool
                                   : o.max_changed_features) = *v;
    } else if (key == "optimizer") {
      if (!value.is_string()) return Bad(source, at, "must be a string");
      auto optimizer = ParseOptimizer(value.get<std::string>());
      if (!optimizer.ok())
        return Bad(source, at, std::string(optimizer.status().message()));
      o.optimizer = *optimizer;
    } else if (key == "mode") {
      if (!value.is_string()) return Bad(source, at, "must be a string");
      auto mode = ParseNioMode(value.get<std::string>());
      if (!mode.ok())
        return Bad(source, at, std::string(mode.status().message()));
      o.mode = *mode;
    } else if (key == "mutable_features") {
      if (!value.is_array())
        return Bad(source, at, "must be an array of names");
      for (const Json& name : value) {
        if (!name.is_string())
          return Bad(source, at, "must be an array of names");
        o.mutable_features.push_back(name.get<std::string>());
      }
    } else if (key == "bounds") {
      if (!value.is_object()) return Bad(source, at, "must be an object");
      for (const auto& [feature, b] : value.items()) {
        const std::string bat = absl::StrCat(at, ".", feature);
        if (!b.is_object()) return Bad(source, bat, "must be an object");
        FeatureBounds bounds;
        for (const auto& [bk, bv] : b.items()) {
          if (bk == "direction") {
            auto d = ParseDirection(bv, source, absl::StrCat(bat, ".", bk));
            if (!d.ok()) return d.status();
            bounds.direction = *d;
            continue;
          }
          auto v = Number(bv, source, absl::StrCat(bat, ".", bk));
          if (!v.ok()) return v.status();
          if (bk == "min")
            bounds.min = *v;
          else if (bk == "max")
            bounds.max = *v;
          else if (bk == "max_delta")
            bounds.max_delta = *v;
          else
            return Bad(source, absl::StrCat(bat, ".", bk),
                       "unknown field (min, max, max_delta, direction)");
        }
        o.bounds[feature] = bounds;
      }
    } else {
      return Bad(source, at, "unknown option");
    }
  }
  return o;
}

absl::StatusOr<TrackRequest> ParseTrack(const Json& j,
                                        const std::string& source,
                                        const std::string& path) {
  if (!j.is_object()) return Bad(source, path, "must be an object");
  TrackRequest r;
  for (const auto& [key, value] : j.items()) {
    const std::string at = absl::StrCat(path, ".", key);
    if (key == "id") {
      if (value.is_string())
        r.track.id = value.get<std::string>();
      else if (value.is_number_integer())
        r.track.id = std::to_string(value.get<int64_t>());
      else
        return Bad(source, at, "must be a string");
    } else if (key == "genre" || key == "track_genre") {
      if (!value.is_string()) return Bad(source, at, "must be a string");
      r.track.genre = value.get<std::string>();
    } else if (key == "features") {
      if (!value.is_object())
        return Bad(source, at, "must be an object of name: number");
      for (const auto& [name, v] : value.items()) {
        if (v.is_boolean()) {
          r.track.features.emplace_back(name, v.get<bool>() ? 1.0 : 0.0);
          continue;
        }
        auto n = Number(v, source, absl::StrCat(at, ".", name));
        if (!n.ok()) return n.status();
        r.track.features.emplace_back(name, *n);
      }
    } else if (key == "options") {
      auto o = ParseOptions(value, source, at);
      if (!o.ok()) return o.status();
      r.options = std::move(*o);
    } else {
      return Bad(source, at, "unknown field (id, genre, features, options)");
    }
  }
  return r;
}

}  // namespace

absl::StatusOr<std::vector<TrackRequest>> ParseTracksJson(
    const std::string& text, const std::string& source) {
  Json root = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Bad(source, "$", "not valid JSON");
  const Json* list = &root;
  std::string base = "$";
  if (root.is_object() && root.contains("tracks")) {
    list = &root["tracks"];
    base = "tracks";
  }
  std::vector<TrackRequest> out;
  if (list->is_object()) {
    auto t = ParseTrack(*list, source, base);
    if (!t.ok()) return t.status();
    if (t->track.id.empty()) t->track.id = "0";
    out.push_back(std::move(*t));
    return out;
  }
  if (!list->is_array()) return Bad(source, base, "must be an array of tracks");
  for (size_t i = 0; i < list->size(); ++i) {
    auto t = ParseTrack((*list)[i], source, absl::StrCat(base, "[", i, "]"));
    if (!t.ok()) return t.status();
    if (t->track.id.empty()) t->track.id = std::to_string(i);
    out.push_back(std::move(*t));
  }
  return out;
}

absl::StatusOr<std::vector<TrackRequest>> ReadTracksJsonFile(
    const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream text;
  text << f.rdbuf();
  return ParseTracksJson(text.str(), path);
}

}  // namespace nio::models
