// The catalog batch job: reads a catalog CSV, streams its tracks through a
// TrackEngine (server or in-process) with a bounded window, and writes each
// result as it arrives. A result is one key's (by default the pair
// track_id, track_genre; batch_key.h). Bad rows are reported with their line
// numbers and skipped; a row repeating a key is a duplicate, reported with
// the line of the first and skipped; --resume skips keys already in the
// output (and retries the ones that failed), after checking that the output
// was made with the same model, options and key (batch_manifest.h); --shard
// I/N takes the rows whose key hashes to I. The job never overwrites its
// input or, without --overwrite, an existing output.
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
  bool overwrite = false;  // replace an existing output
  // A missing feature column or an empty cell takes the model's default
  // instead of being an error (recorded in the manifest).
  bool fill_missing_mean = false;
  // The column that keys the rows alone (--key-column); "" keys them by
  // (track_id, track_genre). Recorded in the manifest.
  std::string key_column;
  // The model the engine runs and its defaults (recorded in the manifest).
  std::string model_name;
  std::string model_version;
  models::NioDefaults model_defaults;
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
  int64_t rows = 0;  // data rows read
  // Rows that could not be read or hold invalid values (reported).
  int64_t bad_rows = 0;
  // Rows repeating a key of an earlier row (reported, not run: the first
  // row's result stands for them). Not a failure.
  int64_t duplicates = 0;
  int64_t other_shards = 0;  // rows left to other shards
  int64_t already_done = 0;  // skipped by --resume
  int64_t retried = 0;       // failed in an earlier run, sent again
  int64_t sent = 0;
  int64_t succeeded = 0;     // tracks with a result: improved + not_improved
  int64_t improved = 0;      // the result predicts higher than the original
  int64_t not_improved = 0;  // no improving change found (not a suggestion)
  int64_t failed = 0;        // tracks the engine answered with an error
  double seconds = 0;
  double mean_delta = 0;  // over succeeded tracks
  double best_delta = 0;
  // Why the job stopped before the end of the input (the engine failed as a
  // whole, e.g. the server went away); OK when it ran to the end. What was
  // written before is kept: --resume continues from there.
  absl::Status stopped;
};

// Runs the job; `log` gets bad-row reports. Errors (before any track is
// sent): the input or output cannot be opened (NOT_FOUND, INVALID_ARGUMENT,
// PERMISSION_DENIED), the output is the input (INVALID_ARGUMENT) or exists
// without --resume/--overwrite (ALREADY_EXISTS), --resume under other
// options (FAILED_PRECONDITION). An engine failure mid-job is in
// summary.stopped; per-row problems are counted, not errors.
absl::StatusOr<BatchSummary> RunBatch(const BatchOptions& options,
                                      TrackEngine* engine,
                                      std::FILE* log = stderr);

// Parses "I/N" (0 <= I < N).
absl::Status ParseShard(const std::string& text, int* index, int* count);

// What to tell someone whose job stopped before the end of its input (the
// server went away, Ctrl-C): how many results `output` holds (its complete
// records, counted in the file) and the command that continues the job
// (ResumeCommand of `argv`). Two lines, each ending in a newline.
std::string ResumeHint(const std::string& output,
                       const std::vector<std::string>& argv);

}  // namespace nio::client

#endif  // NIO_CLIENT_BATCH_JOB_H_
