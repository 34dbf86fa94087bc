// FairQueue: batch jobs waiting for a slot, one FIFO per caller. Take hands
// out free slots max-min fairly: each next slot goes to the waiting caller
// with the fewest active tracks (ties: the one served least recently), so two
// callers of different sizes submitted together get equal shares of the
// batch block, and so equal rates of track-steps, whatever their order.
//
// Thread-compatible (the scheduler guards it with its mutex).
#ifndef NIO_SERVICE_FAIR_QUEUE_H_
#define NIO_SERVICE_FAIR_QUEUE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "service/job.h"

namespace nio::service {

class FairQueue {
 public:
  void Push(Job job);
  size_t Size() const { return size_; }
  bool Empty() const { return size_ == 0; }

  // Up to `slots` jobs, fairly by caller. active: tracks each caller has in
  // the block now (missing = 0); updated for the jobs taken.
  std::vector<Job> Take(int slots,
                        std::unordered_map<std::string, int>* active);

  // Every waiting job, in no particular order.
  std::vector<Job> TakeAll();

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
