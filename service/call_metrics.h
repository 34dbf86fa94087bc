// CallMetrics: what the API served, for /metrics: calls by method, status
// code and caller, call latency by method and priority class, HTTP requests
// by route and status, and progress events dropped. Thread-safe; recorded by
// the gRPC reactors (every HTTP API call goes through them too) and by the HTTP
// gateway.
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
  // caller: the token's name, or kAnonymousCaller (caller_identity.h).
  void RecordCall(std::string_view method, std::string_view job_class,
                  std::string_view caller, absl::StatusCode code,
                  double seconds);
  // A stream's progress event not sent: over its per-second limit
  // ("rate") or with its reader too far behind ("window").
  void CountDroppedProgress(std::string_view reason);
  void RecordHttp(std::string_view route, int status, double seconds);

  // Appends the families nio_requests_total, nio_request_duration_seconds,
  // nio_http_requests_total, nio_http_request_duration_seconds and
  // nio_progress_events_dropped_total.
  void WriteTo(PrometheusText* out) const;

 private:
  struct Latency {
    std::array<int64_t, kLatencyBounds.size() + 1> counts{};
    double sum = 0;
    void Add(double seconds);
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t>
      calls_;  // method, code, caller
  std::map<std::tuple<std::string, std::string>, Latency>
      call_latency_;                                      // method, class
  std::map<std::tuple<std::string, int>, int64_t> http_;  // route, status
  std::map<std::string, Latency> http_latency_;           // route
  std::map<std::string, int64_t> dropped_progress_;       // reason
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
  void SetCaller(std::string label) { caller_ = std::move(label); }
  void Done(absl::StatusCode code);

 private:
  CallMetrics* metrics_;
  std::string_view method_;
  std::string_view job_class_ = "none";
  std::string caller_ = "anonymous";
  std::chrono::steady_clock::time_point start_;
  bool done_ = false;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_CALL_METRICS_H_
