// The standard process_* metrics of Prometheus client libraries (CPU time,
// memory, open files, threads, start time), read from /proc/self.
#ifndef NIO_SERVICE_PROCESS_METRICS_H_
#define NIO_SERVICE_PROCESS_METRICS_H_

#include "service/prometheus_text.h"

namespace nio::service {

// Appends what /proc/self tells; a file that cannot be read leaves its
// metrics out.
void WriteProcessMetrics(PrometheusText* out);

}  // namespace nio::service

#endif  // NIO_SERVICE_PROCESS_METRICS_H_
