#include "client/progress.h"

#include <algorithm>
#include <string>

namespace nio::client {

Progress::Progress(int64_t total, bool tty, std::FILE* out)
    : total_(total), tty_(tty), out_(out), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::Update(int64_t done, int64_t failed) {
  const auto now = std::chrono::steady_clock::now();
  const auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ < every) return;
  last_draw_ = now;
  Draw(done, failed, false);
}

void Progress::Finish(int64_t done, int64_t failed) { Draw(done, failed, true); }

void Progress::Draw(int64_t done, int64_t failed, bool final) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? done / seconds : 0;
  char eta[32] = "?";
  // Tracks finish in waves (a batch runs its steps together), so the rate is
  // meaningless until a first wave is done.
  if (total_ > 0 && rate > 0 && done >= std::max<int64_t>(1, total_ / 100)) {
    const double left = std::max<int64_t>(0, total_ - done) / rate;
    std::snprintf(eta, sizeof(eta), "%dm%02ds", static_cast<int>(left) / 60,
                  static_cast<int>(left) % 60);
  }
  if (tty_) {
    const int width = 30;
    const int filled = total_ > 0 ? static_cast<int>(width * std::min<double>(1, double(done) / total_)) : 0;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(out_, "\r[%s] %lld/%lld tracks, %lld failed, %.1f tracks/s, ETA %s   ", bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_),
                 static_cast<long long>(failed), rate, final ? "0m00s" : eta);
    if (final) std::fprintf(out_, "\n");
  } else {
    std::fprintf(out_, "progress: %lld/%lld tracks, %lld failed, %.1f tracks/s, %s %s\n",
                 static_cast<long long>(done), static_cast<long long>(total_),
                 static_cast<long long>(failed), rate, final ? "done in" : "ETA",
                 final ? (std::to_string(static_cast<int>(seconds)) + "s").c_str() : eta);
  }
  std::fflush(out_);
}

}  // namespace nio::client
