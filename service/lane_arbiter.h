// LaneArbiter: decides, at every step or chunk boundary, whether the
// interactive block or the batch block runs next.
//
// Interactive work goes first, but never takes everything: while both blocks
// have work, the batch block earns credit at batch_min_share / (1 -
// batch_min_share) of the time the interactive block runs and spends it at
// the time it runs itself, so under an interactive flood it still gets its
// minimum share of the backend's time, measured over windows of about
// cap / batch_min_share. The credit is kept within [-cap, cap], and starts at
// -cap whenever the interactive block goes idle: a burst of interactive work
// (a one-track call) runs for up to cap / ratio before the batch block
// claims its share, so short calls are not interrupted, and an idle spell
// does not let the batch block bank time to spend later.
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
  // batch_min_share in [0, 1); cap: the most credit (or debt) kept, and so
  // the head start of an interactive burst.
  LaneArbiter(double batch_min_share, Clock::duration cap)
      : ratio_(batch_min_share / (1.0 - batch_min_share)),
        cap_(cap),
        credit_(-cap) {}

  // Which block runs next, given which have work.
  JobClass Next(bool interactive_work, bool batch_work) const {
    if (!interactive_work) return JobClass::kBatch;
    if (!batch_work) return JobClass::kInteractive;
    return credit_ > Clock::duration::zero() ? JobClass::kBatch
                                             : JobClass::kInteractive;
  }

  // `ran` took `took`; `other_waiting`: the other block had work meanwhile.
  void Ran(JobClass ran, Clock::duration took, bool other_waiting) {
    if (!other_waiting) return;
    if (ran == JobClass::kInteractive) {
      credit_ += std::chrono::duration_cast<Clock::duration>(took * ratio_);
    } else {
      credit_ -= took;
    }
    credit_ = std::clamp(credit_, -cap_, cap_);
  }

  // The interactive block has no work: the batch block has the backend.
  void InteractiveIdle() { credit_ = -cap_; }

 private:
  const double ratio_;
  const Clock::duration cap_;
  Clock::duration credit_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_LANE_ARBITER_H_
