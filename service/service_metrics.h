// RenderMetrics: the server's whole /metrics page in the Prometheus text
// format: build and model info, readiness, the API calls (CallMetrics), the
// scheduler's live stats per priority class, and the process metrics.
#ifndef NIO_SERVICE_SERVICE_METRICS_H_
#define NIO_SERVICE_SERVICE_METRICS_H_

#include <map>
#include <string>

#include "service/call_metrics.h"
#include "service/caller_ledger.h"
#include "service/scheduler_stats.h"

namespace nio::service {

struct MetricsInputs {
  const CallMetrics* calls = nullptr;
  SchedulerStats stats;
  std::string model_name;
  std::string model_version;
  std::string backend;  // the scheduler's backend description
  int batch_slots = 0;
  int interactive_slots = 0;
  bool ready = false;
  // What callers hold now, by label (NioService::CallerUsage).
  std::map<std::string, CallerLedger::Usage> callers;
};

std::string RenderMetrics(const MetricsInputs& in);

}  // namespace nio::service

#endif  // NIO_SERVICE_SERVICE_METRICS_H_
