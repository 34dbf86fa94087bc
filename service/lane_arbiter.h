// LaneArbiter: decides, at every step or chunk boundary, whether the
// interactive block or the batch block runs next.
//
// Interactive work goes first, but never takes everything. The batch block
// keeps a credit: it earns ratio = batch_min_share / (1 - batch_min_share)
// of every interval the interactive block runs while batch work waits, and
// spends every interval it runs itself (alone or not). It runs ahead of
// waiting interactive work only while its credit is positive. So over any
// long enough window in which batch work is waiting, it gets at least
// batch_min_share of the backend's time, however the interactive work
// arrives (a flood, or a train of short calls with gaps between them: the
// gaps count as batch time). The credit is kept within [-cap, cap] with
// cap = burst * ratio: after the batch block has had the backend for a while
// (credit at -cap), an interactive burst of up to `burst` runs uninterrupted,
// and the share holds over windows of about burst / (1 - batch_min_share).
//
// Pure logic, no clock of its own: callers report how long each part took.
#ifndef NIO_SERVICE_LANE_ARBITER_H_
#define NIO_SERVICE_LANE_ARBITER_H_

#include <algorithm>
#include <chrono>

#include "service/job.h"

namespace nio::service {

class LaneArbiter {
 public:
  // batch_min_share in [0, 1); burst >= 0 (see above).
  LaneArbiter(double batch_min_share, Clock::duration burst)
      : ratio_(batch_min_share / (1.0 - batch_min_share)),
        cap_(std::chrono::duration_cast<Clock::duration>(burst * ratio_)),
        credit_(-cap_) {}

  // Which block runs next, given which have work.
  JobClass Next(bool interactive_work, bool batch_work) const {
    if (!interactive_work) return JobClass::kBatch;
    if (!batch_work) return JobClass::kInteractive;
    return credit_ > Clock::duration::zero() ? JobClass::kBatch
                                             : JobClass::kInteractive;
  }

  // `ran` took `took`; batch_waiting: the batch block had work meanwhile.
  void Ran(JobClass ran, Clock::duration took, bool batch_waiting) {
    if (ran == JobClass::kBatch) {
      credit_ -= took;
    } else if (batch_waiting) {
      credit_ += std::chrono::duration_cast<Clock::duration>(took * ratio_);
    }
    credit_ = std::clamp(credit_, -cap_, cap_);
  }

 private:
  const double ratio_;
  const Clock::duration cap_;
  Clock::duration credit_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_LANE_ARBITER_H_
