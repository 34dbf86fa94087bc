#include "client/progress.h"

#include <algorithm>
#include <string>

namespace nio::client {

Progress::Progress(int64_t total, bool tty, std::FILE* out)
    : total_(total),
      tty_(tty),
      out_(out),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::Update(int64_t done, int64_t failed) {
  const auto now = std::chrono::steady_clock::now();
  const auto every =
      tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (now - last_draw_ < every) return;
  last_draw_ = now;
  Draw(done, failed, false);
}

void Progress::Skip(int64_t rows) {
  total_ = std::max<int64_t>(0, total_ - rows);
}

void Progress::Finish(int64_t done, int64_t failed) {
  if (done > 0) Draw(done, failed, true);
}

void Progress::Draw(int64_t done, int64_t failed, bool final) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  const int64_t results = done - failed;
  const double rate = seconds > 0 ? results / seconds : 0;
  // Tracks finish in waves (a batch runs its steps together), so the rate
  // means nothing until a first wave is done: "--" until then.
  std::string eta = "--";
  if (total_ > 0 && rate > 0 && results >= std::max<int64_t>(1, total_ / 100)) {
    const int left =
        static_cast<int>(std::max<int64_t>(0, total_ - done) / rate);
    char text[32];
    std::snprintf(text, sizeof(text), "%dm%02ds", left / 60, left % 60);
    eta = text;
  }
  const int64_t total = std::max(total_, done);
  if (tty_) {
    const int width = 30;
    const int filled =
        total > 0 ? static_cast<int>(width *
                                     std::min<double>(1, double(done) / total))
                  : 0;
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(
        out_, "\r[%s] %lld/%lld tracks, %lld failed, %.1f tracks/s, %s %s   ",
        bar.c_str(), static_cast<long long>(done),
        static_cast<long long>(total), static_cast<long long>(failed), rate,
        final ? "done in" : "ETA",
        final ? (std::to_string(static_cast<int>(seconds)) + "s").c_str()
              : eta.c_str());
    if (final) std::fprintf(out_, "\n");
  } else {
    std::fprintf(
        out_, "progress: %lld/%lld tracks, %lld failed, %.1f tracks/s, %s %s\n",
        static_cast<long long>(done), static_cast<long long>(total),
        static_cast<long long>(failed), rate, final ? "done in" : "ETA",
        final ? (std::to_string(static_cast<int>(seconds)) + "s").c_str()
              : eta.c_str());
  }
  std::fflush(out_);
}

}  // namespace nio::client
