// What every call reactor needs from the service: the scheduler its tracks
// run on, the limits they are held to, the ledger of what each caller has in
// flight, and where calls are recorded. Owned by NioService; the reactors
// hold a pointer and must not outlive it.
#ifndef NIO_SERVICE_CALL_RESOURCES_H_
#define NIO_SERVICE_CALL_RESOURCES_H_

#include "service/call_metrics.h"
#include "service/caller_ledger.h"
#include "service/request_limits.h"
#include "service/scheduler.h"

namespace nio::service {

struct CallResources {
  Scheduler* scheduler = nullptr;
  RequestLimits limits;
  // The most tracks one request (or stream message) may run in the
  // interactive block (NioServiceOptions::interactive_max_tracks).
  int interactive_max_tracks = 16;
  // OptimizeStream stops reading while this many of its tracks are in
  // flight.
  int stream_window = 4096;
  CallerLedger* ledger = nullptr;
  CallMetrics* metrics = nullptr;  // may be null: nothing is recorded
};

}  // namespace nio::service

#endif  // NIO_SERVICE_CALL_RESOURCES_H_
