// CallerLedger: what each caller has in flight now, the work its tracks may
// still take (steps x starts, reserved when they are queued, given back when
// they are answered) and its open streams, held against the per-caller
// limits of request_limits.h. Thread-safe; Release runs on the scheduler's
// thread, so every method only takes a short lock.
#ifndef NIO_SERVICE_CALLER_LEDGER_H_
#define NIO_SERVICE_CALLER_LEDGER_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "service/caller_identity.h"
#include "service/request_limits.h"

namespace nio::service {

class CallerLedger {
 public:
  explicit CallerLedger(const RequestLimits& limits) : limits_(limits) {}

  // Reserves `track_steps` for the caller, or RESOURCE_EXHAUSTED naming
  // --max_caller_track_steps (nothing reserved).
  absl::Status Reserve(const Caller& caller, int64_t track_steps);
  void Release(const Caller& caller, int64_t track_steps);
  // Whether Reserve(caller, track_steps) would succeed now.
  bool WouldFit(const Caller& caller, int64_t track_steps) const;

  // Counts an open stream, or RESOURCE_EXHAUSTED naming
  // --max_streams_per_caller.
  absl::Status OpenStream(const Caller& caller);
  void CloseStream(const Caller& caller);

  // By metrics label: every anonymous caller adds up under one.
  struct Usage {
    int64_t track_steps = 0;
    int streams = 0;
  };
  std::map<std::string, Usage> UsageByLabel() const;

 private:
  struct Entry {
    std::string label;
    Usage usage;
  };
  // Drops the caller's entry once it holds nothing. With mu_ held.
  void ForgetIfIdle(const std::string& name);

  const RequestLimits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> callers_;  // guarded by mu_
};

}  // namespace nio::service

#endif  // NIO_SERVICE_CALLER_LEDGER_H_
