#include "service/caller_ledger.h"

#include "absl/strings/str_cat.h"

namespace nio::service {

absl::Status CallerLedger::Reserve(const Caller& caller, int64_t track_steps) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = callers_[caller.name];
  e.label = caller.label;
  if (e.usage.track_steps + track_steps > limits_.max_caller_track_steps) {
    const int64_t held = e.usage.track_steps;
    ForgetIfIdle(caller.name);
    return absl::ResourceExhaustedError(absl::StrCat(
        "caller '", caller.name, "' has ", held,
        " row-steps (steps x starts) queued or running and asks for ",
        track_steps, " more; the limit per caller is ",
        limits_.max_caller_track_steps,
        " (--max_caller_track_steps): retry as answers come back"));
  }
  e.usage.track_steps += track_steps;
  return absl::OkStatus();
}

void CallerLedger::Release(const Caller& caller, int64_t track_steps) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = callers_.find(caller.name);
  if (it == callers_.end()) return;
  it->second.usage.track_steps -= track_steps;
  ForgetIfIdle(caller.name);
}

bool CallerLedger::WouldFit(const Caller& caller, int64_t track_steps) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = callers_.find(caller.name);
  const int64_t held = it == callers_.end() ? 0 : it->second.usage.track_steps;
  return held + track_steps <= limits_.max_caller_track_steps;
}

absl::Status CallerLedger::OpenStream(const Caller& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = callers_[caller.name];
  e.label = caller.label;
  if (e.usage.streams >= limits_.max_streams_per_caller) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "caller '", caller.name, "' has ", e.usage.streams,
        " streams open; the limit per caller is ",
        limits_.max_streams_per_caller,
        " (--max_streams_per_caller): send more tracks per stream"));
  }
  ++e.usage.streams;
  return absl::OkStatus();
}

void CallerLedger::CloseStream(const Caller& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = callers_.find(caller.name);
  if (it == callers_.end()) return;
  --it->second.usage.streams;
  ForgetIfIdle(caller.name);
}

std::map<std::string, CallerLedger::Usage> CallerLedger::UsageByLabel() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, Usage> out;
  for (const auto& [name, e] : callers_) {
    Usage& u = out[e.label];
    u.track_steps += e.usage.track_steps;
    u.streams += e.usage.streams;
  }
  return out;
}

void CallerLedger::ForgetIfIdle(const std::string& name) {
  auto it = callers_.find(name);
  if (it != callers_.end() && it->second.usage.track_steps == 0 &&
      it->second.usage.streams == 0)
    callers_.erase(it);
}

}  // namespace nio::service
