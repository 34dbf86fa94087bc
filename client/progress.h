// Progress of a batch job on stderr: a redrawn bar with rate and ETA on a
// terminal, a plain line every few seconds otherwise (logs, CI).
#ifndef NIO_CLIENT_PROGRESS_H_
#define NIO_CLIENT_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace nio::client {

class Progress {
 public:
  // total: tracks expected (0 = unknown). tty: draw a bar (else plain lines).
  Progress(int64_t total, bool tty, std::FILE* out = stderr);
  // Rows counted in `total` that will not run after all (bad rows, ids
  // already done): they leave the total, so the bar ends at 100%.
  void Skip(int64_t rows);
  // Reports `done` tracks finished so far, `failed` of them with an error;
  // redraws at most ~10 times a second (a bar) or every 5 s (plain). The
  // rate and ETA count only results: a failed track comes back at once.
  void Update(int64_t done, int64_t failed);
  // The final line; none when no track ran (a resume with nothing left).
  void Finish(int64_t done, int64_t failed);

 private:
  void Draw(int64_t done, int64_t failed, bool final);
  int64_t total_;
  const bool tty_;
  std::FILE* out_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace nio::client

#endif  // NIO_CLIENT_PROGRESS_H_
