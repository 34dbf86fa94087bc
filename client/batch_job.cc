#include "client/batch_job.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/batch_key.h"
#include "client/batch_manifest.h"
#include "client/batch_resume.h"
#include "client/catalog_csv.h"
#include "client/progress.h"
#include "client/result_writer.h"

namespace nio::client {
namespace {

// The rows of this shard, for the progress total: every data line of an
// unsharded job, else the rows whose key falls to this shard (a second
// read of the input; the key's hash cannot be guessed from the line count).
int64_t CountShardRows(const BatchOptions& options,
                       const std::vector<std::string>& key_columns) {
  if (options.shard_count <= 1) {
    std::ifstream in(options.input);
    std::string line;
    int64_t n = -1;  // the header
    while (std::getline(in, line)) {
      if (!line.empty() && line != "\r") ++n;
    }
    return std::max<int64_t>(0, n);
  }
  auto reader = CatalogReader::Open(options.input, options.model_features,
                                    options.fill_missing_mean, key_columns);
  if (!reader.ok()) return 0;  // unknown: a bar without a total
  int64_t n = 0;
  CatalogRow row;
  while ((*reader)->Next(&row)) {
    n += ShardOfRow(row, options.shard_count) == options.shard_index;
  }
  return n;
}

// What the engine reports about a track names it by the id it was sent
// under (its catalog line); the record and the log name it by its
// track_id.
absl::Status NamedByTrackId(const absl::Status& status,
                            const std::string& sent_as,
                            const std::string& track_id) {
  const std::string as_sent = absl::StrCat("track '", sent_as, "'");
  const std::string message(status.message());
  if (sent_as == track_id || !absl::StartsWith(message, as_sent)) return status;
  return absl::Status(
      status.code(),
      absl::StrCat("track '", track_id, "'", message.substr(as_sent.size())));
}

// The input must survive the job, and an existing output needs a word.
absl::Status CheckOutputPath(const BatchOptions& options) {
  std::error_code error;
  if (std::filesystem::equivalent(options.input, options.output, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--output ", options.output,
                     " is the --input file: the catalog would be overwritten"));
  }
  if (std::filesystem::is_directory(options.output, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--output ", options.output, ": a directory, not a file"));
  }
  const std::filesystem::path parent =
      std::filesystem::path(options.output).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, error)) {
    return absl::NotFoundError(absl::StrCat(
        "--output ", options.output, ": no directory ", parent.string()));
  }
  if (options.resume && options.overwrite) {
    return absl::FailedPreconditionError(
        "--resume continues the output, --overwrite replaces it: pick one");
  }
  if (!options.resume && !options.overwrite &&
      std::filesystem::exists(options.output, error)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "--output ", options.output,
        " exists: pass --resume to continue it or --overwrite to replace it"));
  }
  return absl::OkStatus();
}

// Writes the manifest of this run; with --resume on an existing output,
// first checks that the output was made under the same model, options and
// key, and reads which keys it holds.
absl::StatusOr<ResumeState> CheckAndPrepareResume(
    const BatchOptions& options, const std::vector<std::string>& key_columns) {
  BatchManifest manifest{
      options.model_name,
      options.model_version,
      options.options,
      options.output_features,
      options.fill_missing_mean,
      key_columns,
      options.shard_count > 1
          ? absl::StrCat(options.shard_index, "/", options.shard_count)
          : ""};
  const models::NioOptions& o = options.options;
  manifest.options.mode = o.mode.value_or(options.model_defaults.mode);
  // What runs, as BuildNioProblem picks it: reference mode is Adam.
  const models::Optimizer optimizer =
      o.optimizer.value_or(*manifest.options.mode == models::NioMode::kReference
                               ? models::Optimizer::kAdam
                               : options.model_defaults.optimizer);
  const models::NioDefaults d =
      models::DefaultsFor(options.model_defaults, optimizer);
  manifest.options.optimizer = optimizer;
  manifest.options.steps = o.steps.value_or(d.steps);
  manifest.options.lr = optimizer == models::Optimizer::kAdam
                            ? std::optional<double>(o.lr.value_or(d.lr))
                            : o.lr;
  manifest.options.lambda = o.lambda.value_or(d.lambda);
  manifest.options.starts = o.starts.value_or(d.starts);
  manifest.options.start_pool = o.start_pool.value_or(d.start_pool);
  // The window only means something with a tolerance, and then defaults.
  if (options.options.tolerance.value_or(0) > 0) {
    manifest.options.tolerance_window =
        options.options.tolerance_window.value_or(
            models::kDefaultConvergenceWindow);
  } else {
    manifest.options.tolerance = std::nullopt;
    manifest.options.tolerance_window = std::nullopt;
  }
  ResumeState resume;
  if (options.resume && std::filesystem::exists(options.output)) {
    auto previous = ReadManifest(options.output);
    if (absl::IsNotFound(previous.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("--resume: ", options.output, " has no ",
                       ManifestPath(options.output),
                       " saying which model and options made it; use "
                       "--overwrite or another --output"));
    }
    if (!previous.ok()) return previous.status();
    if (absl::Status s = CheckSameShape(*previous, manifest); !s.ok()) return s;
    auto state = PrepareResume(options.output, KeyFields(key_columns));
    if (!state.ok()) return state.status();
    resume = std::move(*state);
  }
  if (absl::Status s = WriteManifest(options.output, manifest); !s.ok())
    return s;
  return resume;
}

}  // namespace

absl::Status ParseShard(const std::string& text, int* index, int* count) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], index) ||
      !absl::SimpleAtoi(parts[1], count) || *count <= 0 || *index < 0 ||
      *index >= *count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--shard ", text, ": expected I/N with 0 <= I < N, e.g. 0/4"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BatchSummary> RunBatch(const BatchOptions& options,
                                      TrackEngine* engine, std::FILE* log) {
  const auto start = std::chrono::steady_clock::now();
  BatchSummary summary;
  const std::vector<std::string> key_columns = KeyColumns(options.key_column);
  auto reader = CatalogReader::Open(options.input, options.model_features,
                                    options.fill_missing_mean, key_columns);
  if (!reader.ok()) return reader.status();
  if (absl::Status s = CheckOutputPath(options); !s.ok()) return s;
  auto resume = CheckAndPrepareResume(options, key_columns);
  if (!resume.ok()) return resume.status();
  summary.retried = resume->retry;
  const std::unordered_set<std::string>& done_keys = resume->done;
  auto writer =
      ResultWriter::Open(options.output, options.output_features,
                         RecordsCarryKey(key_columns), options.resume);
  if (!writer.ok()) return writer.status();

  const bool tty =
      options.progress == ProgressMode::kBar ||
      (options.progress == ProgressMode::kAuto && isatty(fileno(stderr)));
  Progress progress(
      std::max<int64_t>(0, CountShardRows(options, key_columns) -
                               static_cast<int64_t>(done_keys.size())),
      tty, log);

  std::mutex mu;  // guards what the result callback touches
  // The tracks sent, by the id the engine knows them by: their catalog
  // line. A track_id may be on several rows (one per genre) and a stream
  // refuses an id twice, so the track_id cannot be that id.
  std::unordered_map<std::string, ResultRecord> in_flight;
  // The first failed write (a full disk, say): no row is sent after it, and
  // the results still coming back are counted, not written.
  absl::Status write_status;
  std::atomic<bool> write_failed{false};
  int64_t unsaved = 0;
  double delta_sum = 0;
  auto on_result = [&](EngineResult r) {
    std::lock_guard<std::mutex> lock(mu);
    ResultRecord record;
    auto it = in_flight.find(r.id);
    if (it != in_flight.end()) {
      record = std::move(it->second);
      in_flight.erase(it);
    } else {
      record.id = r.id;
    }
    record.outcome = std::move(r.outcome);
    if (record.outcome.status.ok()) {
      ++summary.succeeded;
      ++(record.outcome.result.quality.improved ? summary.improved
                                                : summary.not_improved);
      delta_sum += record.outcome.result.delta;
      if (summary.succeeded == 1 ||
          record.outcome.result.delta > summary.best_delta) {
        summary.best_delta = record.outcome.result.delta;
      }
    } else {
      ++summary.failed;
      record.outcome.status =
          NamedByTrackId(record.outcome.status, r.id, record.id);
      // Engine messages name the track already ("track 'X': field: ...").
      const std::string message(record.outcome.status.message());
      const std::string named = absl::StrCat("track '", record.id, "'");
      std::fprintf(
          log, "%s%s: line %lld: %s%s\n", tty ? "\n" : "",
          options.input.c_str(), static_cast<long long>(record.line),
          absl::StartsWith(message, named) ? "" : (named + ": ").c_str(),
          message.c_str());
    }
    if (!write_status.ok()) {
      ++unsaved;
    } else if (absl::Status s = (*writer)->Write(record); !s.ok()) {
      write_status = s;
      write_failed.store(true);
      ++unsaved;
    }
    if (options.progress != ProgressMode::kNone) {
      progress.Update(summary.succeeded + summary.failed, summary.failed);
    }
  };
  if (absl::Status s = engine->Start(on_result); !s.ok()) return s;

  // A bad or duplicate row leaves the progress total (the keys already done
  // left it above).
  auto SkipInProgress = [&] {
    std::lock_guard<std::mutex> lock(mu);
    if (options.progress != ProgressMode::kNone) progress.Skip(1);
  };
  // Each key of this shard that became a track -> the line of its first
  // row. A bad row claims no key: a later good row with it still runs.
  std::unordered_map<std::string, int64_t> first_line;
  std::vector<models::RawTrack> pending;
  absl::Status engine_status;
  auto flush = [&] {
    if (pending.empty() || !engine_status.ok() || write_failed.load()) return;
    summary.sent += static_cast<int64_t>(pending.size());
    engine_status = engine->Send(pending, options.options);
    pending.clear();
  };
  CatalogRow row;
  while (!write_failed.load() && engine_status.ok() && (*reader)->Next(&row)) {
    ++summary.rows;
    // Every row of a key is in the key's shard: a duplicate is always found
    // by the shard that runs the key.
    if (ShardOfRow(row, options.shard_count) != options.shard_index) {
      ++summary.other_shards;
      continue;
    }
    if (!row.track.ok()) {
      ++summary.bad_rows;
      SkipInProgress();
      std::fprintf(log, "%sbad row skipped: %s\n", tty ? "\n" : "",
                   std::string(row.track.status().message()).c_str());
      continue;
    }
    const std::string key = EncodeKey(row.key);
    const auto [first, inserted] = first_line.emplace(key, row.line);
    if (!inserted) {
      ++summary.duplicates;
      SkipInProgress();
      std::fprintf(log,
                   "%sduplicate row skipped: %s: line %lld: %s already at "
                   "line %lld\n",
                   tty ? "\n" : "", options.input.c_str(),
                   static_cast<long long>(row.line),
                   DescribeKey(key_columns, row.key).c_str(),
                   static_cast<long long>(first->second));
      continue;
    }
    if (done_keys.count(key)) {
      ++summary.already_done;
      continue;
    }
    models::RawTrack& t = *row.track;
    ResultRecord record;
    record.id = t.id;
    record.genre = t.genre;
    if (RecordsCarryKey(key_columns)) record.key = row.key.front();
    record.line = row.line;
    t.id = absl::StrCat(row.line);
    {
      std::lock_guard<std::mutex> lock(mu);
      in_flight[t.id] = std::move(record);
    }
    pending.push_back(std::move(t));
    if (static_cast<int>(pending.size()) >= options.message_tracks) flush();
  }
  flush();
  const absl::Status finish = engine->Finish();
  if (options.progress != ProgressMode::kNone) {
    progress.Finish(summary.succeeded + summary.failed, summary.failed);
  }
  if (std::lock_guard<std::mutex> lock(mu); !write_status.ok()) {
    // Every callback has run once Finish returned.
    write_status = absl::Status(
        write_status.code(),
        absl::StrCat(write_status.message(), " (", unsaved,
                     " results not saved; no rows sent after it)"));
  }
  summary.stopped = !engine_status.ok() ? engine_status
                    : !finish.ok()      ? finish
                                        : write_status;
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  summary.mean_delta =
      summary.succeeded > 0 ? delta_sum / summary.succeeded : 0;
  return summary;
}

std::string ResumeHint(const std::string& output,
                       const std::vector<std::string>& argv) {
  // Records are written and flushed whole, one line each: the complete
  // lines are the saved results (a CSV's first line is its header).
  std::ifstream in(output, std::ios::binary);
  int64_t lines = 0;
  for (std::string line; std::getline(in, line) && !in.eof();) ++lines;
  auto format = FormatOf(output);
  if (format.ok() && *format == OutputFormat::kCsv && lines > 0) --lines;
  return absl::StrCat("  ", lines, " results are saved in ", output,
                      "; continue with:\n    ", ResumeCommand(argv), "\n");
}

}  // namespace nio::client
