// TokenBucket: at most `rate` events per second on average, in bursts of at
// most `burst`. Thread-compatible (the owner locks).
#ifndef NIO_SERVICE_TOKEN_BUCKET_H_
#define NIO_SERVICE_TOKEN_BUCKET_H_

#include <algorithm>
#include <chrono>

namespace nio::service {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  // rate <= 0: no event is allowed.
  TokenBucket(double rate, double burst)
      : rate_(rate), burst_(std::max(1.0, burst)), tokens_(burst_) {}

  // Takes one token when there is one.
  bool Take(Clock::time_point now) {
    if (rate_ <= 0) return false;
    if (last_ != Clock::time_point{}) {
      tokens_ = std::min(
          burst_,
          tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
    }
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_{};
};

}  // namespace nio::service

#endif  // NIO_SERVICE_TOKEN_BUCKET_H_
