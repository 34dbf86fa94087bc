#include "service/prometheus_text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace nio::service {
namespace {

void AppendEscaped(std::string_view v, bool quote_escapes, std::string* out) {
  for (char c : v) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '"' && quote_escapes) {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

void AppendLabels(const Labels& labels, std::string* out) {
  if (labels.empty()) return;
  *out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) *out += ',';
    absl::StrAppend(out, labels[i].first, "=\"");
    AppendEscaped(labels[i].second, true, out);
    *out += '"';
  }
  *out += '}';
}

}  // namespace

std::string PrometheusNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  // Whole numbers as integers (30, 183010), as other clients write them.
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // Else the shortest %g form that reads back as v: 0.0001, 2.5.
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

void PrometheusText::Family(std::string_view name, std::string_view type,
                            std::string_view help) {
  out_.append("# HELP ").append(name).append(" ");
  AppendEscaped(help, false, &out_);
  out_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PrometheusText::Sample(std::string_view name, const Labels& labels,
                            double value) {
  out_ += name;
  AppendLabels(labels, &out_);
  absl::StrAppend(&out_, " ", PrometheusNumber(value), "\n");
}

void PrometheusText::Histogram(std::string_view name, const Labels& labels,
                               std::span<const double> bounds,
                               std::span<const int64_t> counts, double sum) {
  const std::string bucket = std::string(name) + "_bucket";
  int64_t cumulative = 0;
  for (size_t b = 0; b <= bounds.size() && b < counts.size(); ++b) {
    cumulative += counts[b];
    Labels with_le = labels;
    with_le.emplace_back(
        "le", b < bounds.size() ? PrometheusNumber(bounds[b]) : "+Inf");
    Sample(bucket, with_le, static_cast<double>(cumulative));
  }
  Sample(std::string(name) + "_sum", labels, sum);
  Sample(std::string(name) + "_count", labels, static_cast<double>(cumulative));
}

}  // namespace nio::service
