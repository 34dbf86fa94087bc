// The catalog batch job: reads a catalog CSV, streams its tracks through a
// TrackEngine (server or in-process) with a bounded window, and writes each
// result as it arrives. Bad rows are reported with their line numbers and
// skipped; --resume skips ids already in the output; --shard I/N takes every
// N-th data row.
#ifndef NIO_CLIENT_BATCH_JOB_H_
#define NIO_CLIENT_BATCH_JOB_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/track_engine.h"
#include "models/nio_problem.h"

namespace nio::client {

enum class ProgressMode { kAuto, kBar, kPlain, kNone };

struct BatchOptions {
  std::string input;
  std::string output;
  bool resume = false;
  int shard_index = 0;
  int shard_count = 1;
  // Tracks per message sent to the engine.
  int message_tracks = 256;
  ProgressMode progress = ProgressMode::kAuto;
  models::NioOptions options;
  // The model's features (what the CSV columns may name; values are checked
  // against their valid ranges) and the features written as output columns
  // (those that may move).
  std::vector<models::FeatureSpec> model_features;
  std::vector<std::string> output_features;
};

struct BatchSummary {
  int64_t rows = 0;          // data rows read
  int64_t bad_rows =
      0;  // rows that could not be read or hold invalid values (reported)
  int64_t other_shards = 0;  // rows left to other shards
  int64_t already_done = 0;  // skipped by --resume
  int64_t sent = 0;
  int64_t succeeded = 0;     // tracks with a result: improved + not_improved
  int64_t improved = 0;      // the result predicts higher than the original
  int64_t not_improved = 0;  // no improving change found (not a suggestion)
  int64_t failed = 0;        // tracks the engine answered with an error
  double seconds = 0;
  double mean_delta = 0;     // over succeeded tracks
  double best_delta = 0;
};

// Runs the job; `log` gets bad-row reports. Errors: the input or output
// cannot be opened (NOT_FOUND, INVALID_ARGUMENT, PERMISSION_DENIED), or the
// engine failed as a whole (e.g. UNAVAILABLE). Per-row problems are not
// errors.
absl::StatusOr<BatchSummary> RunBatch(const BatchOptions& options, TrackEngine* engine,
                                      std::FILE* log = stderr);

// Parses "I/N" (0 <= I < N).
absl::Status ParseShard(const std::string& text, int* index, int* count);

}  // namespace nio::client

#endif  // NIO_CLIENT_BATCH_JOB_H_
