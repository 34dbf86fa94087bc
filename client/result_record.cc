#include "client/result_record.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace nio::client {

std::string FloatText(double value) {
  if (!std::isfinite(value))
    return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
  float f = static_cast<float>(value);
  if (f == 0) f = 0;  // -0 -> 0
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof(buf), f).ptr;
  return std::string(buf, end);
}

double FloatValue(double value) {
  if (!std::isfinite(value)) return value;
  return std::strtod(FloatText(value).c_str(), nullptr);
}

namespace {

// Digits after the decimal point of a FloatText ("0.25" 2, "1e-05" 5).
int Decimals(const std::string& text) {
  const size_t e = text.find('e');
  const std::string mantissa = text.substr(0, e);
  const size_t dot = mantissa.find('.');
  int decimals = dot == std::string::npos
                     ? 0
                     : static_cast<int>(mantissa.size() - dot - 1);
  if (e != std::string::npos) decimals -= std::atoi(text.c_str() + e + 1);
  return std::max(0, decimals);
}

}  // namespace

double DifferenceValue(double a, double b) {
  const double difference = FloatValue(a) - FloatValue(b);
  if (!std::isfinite(difference)) return difference;
  const int decimals = std::max(Decimals(FloatText(a)), Decimals(FloatText(b)));
  if (decimals > 15) return difference;
  const double power = std::pow(10.0, decimals);
  const double rounded = std::round(difference * power) / power;
  return rounded == 0 ? 0.0 : rounded;
}

std::string DoubleText(double value) {
  if (value == 0) value = 0;  // -0 -> 0
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof(buf), value).ptr;
  return std::string(buf, end);
}

nlohmann::ordered_json ResultRecordJson(const ResultRecord& r) {
  const bool ok = r.outcome.status.ok();
  const models::NioResult& res = r.outcome.result;
  nlohmann::ordered_json j;
  j["id"] = r.id;
  j["genre"] = r.genre;
  if (r.key) j["key"] = *r.key;
  j["line"] = r.line > 0 ? nlohmann::ordered_json(r.line) : nullptr;
  j["status"] = ok ? "ok" : "error";
  j["error"] = ok ? "" : std::string(r.outcome.status.message());
  auto number = [&](double v) {
    return ok ? nlohmann::ordered_json(FloatValue(v)) : nullptr;
  };
  j["prediction_before"] = number(res.prediction_before);
  j["prediction_raw"] = number(res.prediction_raw);
  j["prediction_after"] = number(res.prediction_after);
  j["delta"] = ok ? nlohmann::ordered_json(DifferenceValue(
                        res.prediction_after, res.prediction_before))
                  : nullptr;
  j["improved"] = ok ? nlohmann::ordered_json(res.quality.improved) : nullptr;
  j["steps_run"] = ok ? nlohmann::ordered_json(res.steps_run) : nullptr;
  if (ok) {
    const models::ResultQuality& q = res.quality;
    nlohmann::ordered_json quality;
    quality["stop_reason"] = models::StopReasonName(q.stop_reason);
    quality["winning_start"] = q.winning_start;
    quality["objective"] = FloatValue(q.objective);
    quality["distance_l2"] = FloatValue(q.distance_l2);
    quality["distance_l1"] = FloatValue(q.distance_l1);
    quality["features_changed"] = q.features_changed;
    quality["target_reached"] =
        q.target_reached ? nlohmann::ordered_json(*q.target_reached) : nullptr;
    quality["optimizer"] = models::OptimizerName(q.optimizer);
    quality["starts"] = q.starts;
    j["quality"] = std::move(quality);
  } else {
    j["quality"] = nullptr;
  }
  nlohmann::ordered_json changes = nlohmann::ordered_json::array();
  if (ok) {
    for (const auto& c : res.changes) {
      nlohmann::ordered_json change;
      change["name"] = c.name;
      change["original"] = FloatValue(c.original);
      change["optimized"] = FloatValue(c.optimized);
      change["delta"] = DifferenceValue(c.optimized, c.original);
      change["unclamped"] = FloatValue(c.unclamped);
      changes.push_back(std::move(change));
    }
  }
  j["changes"] = std::move(changes);
  return j;
}

}  // namespace nio::client
