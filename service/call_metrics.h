// CallMetrics: what the API served, for /metrics: calls by method and status
// code, call latency by method and priority class, and HTTP requests by route
// and status. Thread-safe; recorded by the gRPC reactors (every HTTP API call
// goes through them too) and by the HTTP gateway.
#ifndef NIO_SERVICE_CALL_METRICS_H_
#define NIO_SERVICE_CALL_METRICS_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "absl/status/status.h"
#include "service/prometheus_text.h"

namespace nio::service {

// Upper bounds of the latency histogram buckets, in seconds.
inline constexpr std::array<double, 16> kLatencyBounds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5,   1,      2.5,   5,    10,    30,   60,  300};

class CallMetrics {
 public:
  // job_class: "interactive", "batch", or "none" for calls that run no
  // optimization (GetModel, Predict, calls refused before they are queued).
  void RecordCall(std::string_view method, std::string_view job_class,
                  absl::StatusCode code, double seconds);
  void RecordHttp(std::string_view route, int status, double seconds);

  // Appends the families nio_requests_total, nio_request_duration_seconds,
  // nio_http_requests_total and nio_http_request_duration_seconds.
  void WriteTo(PrometheusText* out) const;

 private:
  struct Latency {
    std::array<int64_t, kLatencyBounds.size() + 1> counts{};
    double sum = 0;
    void Add(double seconds);
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string>, int64_t>
      calls_;  // method, code
  std::map<std::tuple<std::string, std::string>, Latency>
      call_latency_;                                      // method, class
  std::map<std::tuple<std::string, int>, int64_t> http_;  // route, status
  std::map<std::string, Latency> http_latency_;           // route
};

// Times one call from its construction and records it once, at Done. A null
// metrics records nothing (services built without a server, in tests).
class CallTimer {
 public:
  CallTimer(CallMetrics* metrics, std::string_view method)
      : metrics_(metrics),
        method_(method),
        start_(std::chrono::steady_clock::now()) {}
  void SetClass(std::string_view job_class) { job_class_ = job_class; }
  void Done(absl::StatusCode code);

 private:
  CallMetrics* metrics_;
  std::string_view method_;
  std::string_view job_class_ = "none";
  std::chrono::steady_clock::time_point start_;
  bool done_ = false;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_CALL_METRICS_H_
