#include "service/fair_queue.h"

namespace nio::service {

void FairQueue::Push(Job job) {
  CallerQueue& q = callers_[job.traits.caller];
  q.jobs.push_back(std::move(job));
  ++size_;
}

void FairQueue::PushFront(Job job) {
  CallerQueue& q = callers_[job.traits.caller];
  q.jobs.push_front(std::move(job));
  ++size_;
}

std::vector<Job> FairQueue::Take(int slots,
                                 std::unordered_map<std::string, int>* active) {
  std::vector<Job> taken;
  while (slots > 0 && !callers_.empty()) {
    // Few callers wait at once (streams, not tracks): a scan is cheaper than
    // keeping a heap in step with `active`.
    auto best = callers_.end();
    int best_active = 0;
    for (auto it = callers_.begin(); it != callers_.end(); ++it) {
      const auto found = active->find(it->first);
      const int a = found == active->end() ? 0 : found->second;
      if (best == callers_.end() || a < best_active ||
          (a == best_active &&
           it->second.last_served < best->second.last_served)) {
        best = it;
        best_active = a;
      }
    }
    const int rows = best->second.jobs.front().Rows();
    if (rows > slots) break;
    slots -= rows;
    taken.push_back(std::move(best->second.jobs.front()));
    best->second.jobs.pop_front();
    best->second.last_served = ++serial_;
    (*active)[best->first] += rows;
    --size_;
    if (best->second.jobs.empty()) callers_.erase(best);
  }
  return taken;
}

std::vector<Job> FairQueue::TakeAll() {
  std::vector<Job> all;
  all.reserve(size_);
  for (auto& [caller, q] : callers_) {
    for (Job& job : q.jobs) all.push_back(std::move(job));
  }
  callers_.clear();
  size_ = 0;
  return all;
}

std::vector<Job> FairQueue::TakeIf(
    const std::function<bool(const Job&)>& pred) {
  std::vector<Job> taken;
  for (auto it = callers_.begin(); it != callers_.end();) {
    std::deque<Job>& jobs = it->second.jobs;
    std::deque<Job> kept;
    for (Job& job : jobs) {
      if (pred(job)) {
        taken.push_back(std::move(job));
      } else {
        kept.push_back(std::move(job));
      }
    }
    jobs.swap(kept);
    it = jobs.empty() ? callers_.erase(it) : std::next(it);
  }
  size_ -= taken.size();
  return taken;
}

}  // namespace nio::service
