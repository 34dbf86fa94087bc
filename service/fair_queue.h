// FairQueue: batch jobs waiting for slots, one FIFO per caller. Take hands
// out free slots max-min fairly: each next job comes from the waiting caller
// with the fewest active rows (ties: the one served least recently), so two
// callers of different sizes submitted together get equal shares of the
// batch block, and so equal rates of row-steps, whatever their order. A job
// takes one row per start.
//
// Thread-compatible (the scheduler guards it with its mutex).
#ifndef NIO_SERVICE_FAIR_QUEUE_H_
#define NIO_SERVICE_FAIR_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "service/job.h"

namespace nio::service {

class FairQueue {
 public:
  void Push(Job job);
  // Back at the head of its caller's line (a track's next pass).
  void PushFront(Job job);
  size_t Size() const { return size_; }
  bool Empty() const { return size_ == 0; }

  // Jobs of at most `slots` rows in all, fairly by caller; stops at the
  // first chosen job that does not fit. active: rows each caller has in the
  // block now (missing = 0); updated for the jobs taken.
  std::vector<Job> Take(int slots,
                        std::unordered_map<std::string, int>* active);

  // Every waiting job, in no particular order.
  std::vector<Job> TakeAll();

  // The waiting jobs for which `pred` holds, removed from their lines.
  std::vector<Job> TakeIf(const std::function<bool(const Job&)>& pred);

 private:
  struct CallerQueue {
    std::deque<Job> jobs;
    uint64_t last_served = 0;
  };
  std::map<std::string, CallerQueue> callers_;  // only callers with jobs
  size_t size_ = 0;
  uint64_t serial_ = 0;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_FAIR_QUEUE_H_
