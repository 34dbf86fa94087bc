#include "service/call_metrics.h"

#include "absl/strings/str_cat.h"

namespace nio::service {

void CallMetrics::Latency::Add(double seconds) {
  size_t b = 0;
  while (b < kLatencyBounds.size() && seconds > kLatencyBounds[b]) ++b;
  counts[b]++;
  sum += seconds;
}

void CallMetrics::RecordCall(std::string_view method,
                             std::string_view job_class,
                             std::string_view caller, absl::StatusCode code,
                             double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_[{std::string(method), absl::StatusCodeToString(code),
          std::string(caller)}]++;
  call_latency_[{std::string(method), std::string(job_class)}].Add(seconds);
}

void CallMetrics::CountDroppedProgress(std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  dropped_progress_[std::string(reason)]++;
}

void CallMetrics::RecordHttp(std::string_view route, int status,
                             double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  http_[{std::string(route), status}]++;
  http_latency_[std::string(route)].Add(seconds);
}

void CallMetrics::WriteTo(PrometheusText* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  out->Family("nio_requests_total", "counter",
              "API calls answered (gRPC, and HTTP through it), by method, "
              "gRPC status code and caller (the token's name, or anonymous)");
  for (const auto& [key, n] : calls_) {
    out->Sample("nio_requests_total",
                {{"method", std::get<0>(key)},
                 {"code", std::get<1>(key)},
                 {"caller", std::get<2>(key)}},
                static_cast<double>(n));
  }
  out->Family("nio_request_duration_seconds", "histogram",
              "API call latency (a stream: its whole life), by method and "
              "priority class");
  for (const auto& [key, l] : call_latency_) {
    out->Histogram("nio_request_duration_seconds",
                   {{"method", std::get<0>(key)}, {"class", std::get<1>(key)}},
                   kLatencyBounds, l.counts, l.sum);
  }
  out->Family("nio_http_requests_total", "counter",
              "HTTP requests answered, by route and HTTP status");
  for (const auto& [key, n] : http_) {
    out->Sample("nio_http_requests_total",
                {{"route", std::get<0>(key)},
                 {"status", absl::StrCat(std::get<1>(key))}},
                static_cast<double>(n));
  }
  out->Family("nio_http_request_duration_seconds", "histogram",
              "HTTP request latency, by route");
  for (const auto& [route, l] : http_latency_) {
    out->Histogram("nio_http_request_duration_seconds", {{"route", route}},
                   kLatencyBounds, l.counts, l.sum);
  }
  out->Family("nio_progress_events_dropped_total", "counter",
              "stream progress events not sent: over the stream's "
              "--max_progress_events_per_s (rate) or its reader too far "
              "behind (window); results are never dropped");
  for (const char* reason : {"rate", "window"}) {
    auto it = dropped_progress_.find(reason);
    out->Sample(
        "nio_progress_events_dropped_total", {{"reason", reason}},
        it == dropped_progress_.end() ? 0.0 : static_cast<double>(it->second));
  }
}

void CallTimer::Done(absl::StatusCode code) {
  if (done_ || metrics_ == nullptr) return;
  done_ = true;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  metrics_->RecordCall(method_, job_class_, caller_, code, seconds);
}

}  // namespace nio::service
