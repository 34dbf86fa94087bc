// PrometheusText: writes the Prometheus text exposition format (version
// 0.0.4): one HELP and TYPE line per family, then its samples, label values
// escaped. Histograms take per-bucket counts and write them cumulatively with
// the +Inf bucket, _sum and _count, as the format requires.
#ifndef NIO_SERVICE_PROMETHEUS_TEXT_H_
#define NIO_SERVICE_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nio::service {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // Starts a family; type is counter, gauge, histogram or untyped. A family
  // is declared once, before its samples.
  void Family(std::string_view name, std::string_view type,
              std::string_view help);
  void Sample(std::string_view name, const Labels& labels, double value);
  // bounds: the buckets' upper bounds; counts: one per bound plus one for
  // larger values (not cumulative).
  void Histogram(std::string_view name, const Labels& labels,
                 std::span<const double> bounds,
                 std::span<const int64_t> counts, double sum);

  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

// A number as the format writes it: shortest round-trip form, +Inf, -Inf, NaN.
std::string PrometheusNumber(double v);

}  // namespace nio::service

#endif  // NIO_SERVICE_PROMETHEUS_TEXT_H_
