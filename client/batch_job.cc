#include "client/batch_job.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/catalog_csv.h"
#include "client/progress.h"
#include "client/result_writer.h"

namespace nio::client {
namespace {

int64_t CountDataLines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int64_t n = -1;  // the header
  while (std::getline(in, line)) {
    if (!line.empty() && line != "\r") ++n;
  }
  return std::max<int64_t>(0, n);
}

}  // namespace

absl::Status ParseShard(const std::string& text, int* index, int* count) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], index) ||
      !absl::SimpleAtoi(parts[1], count) || *count <= 0 || *index < 0 || *index >= *count) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shard ", text, ": expected I/N with 0 <= I < N, e.g. 0/4"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BatchSummary> RunBatch(const BatchOptions& options, TrackEngine* engine,
                                      std::FILE* log) {
  const auto start = std::chrono::steady_clock::now();
  BatchSummary summary;
  std::unordered_set<std::string> done_ids;
  if (options.resume) {
    auto ids = ReadDoneIds(options.output);
    if (!ids.ok()) return ids.status();
    done_ids = std::move(*ids);
  }
  auto reader = CatalogReader::Open(options.input, options.model_features);
  if (!reader.ok()) return reader.status();
  auto writer = ResultWriter::Open(options.output, options.output_features, options.resume);
  if (!writer.ok()) return writer.status();

  const bool tty = options.progress == ProgressMode::kBar ||
                   (options.progress == ProgressMode::kAuto && isatty(fileno(stderr)));
  int64_t expected = CountDataLines(options.input);
  if (options.shard_count > 1) expected = (expected + options.shard_count - 1) / options.shard_count;
  expected = std::max<int64_t>(0, expected - static_cast<int64_t>(done_ids.size()));
  Progress progress(expected, tty, log);

  std::mutex mu;  // guards what the result callback touches
  std::unordered_map<std::string, std::pair<int64_t, std::string>> where;  // id -> (line, genre)
  absl::Status write_status;
  double delta_sum = 0;
  auto on_result = [&](EngineResult r) {
    std::lock_guard<std::mutex> lock(mu);
    ResultRecord record;
    record.id = r.id;
    auto it = where.find(r.id);
    if (it != where.end()) {
      record.line = it->second.first;
      record.genre = it->second.second;
    }
    record.outcome = std::move(r.outcome);
    if (record.outcome.status.ok()) {
      ++summary.succeeded;
      ++(record.outcome.result.quality.improved ? summary.improved
                                                : summary.not_improved);
      delta_sum += record.outcome.result.delta;
      if (summary.succeeded == 1 || record.outcome.result.delta > summary.best_delta) {
        summary.best_delta = record.outcome.result.delta;
      }
    } else {
      ++summary.failed;
      std::fprintf(log, "%s%s: line %lld: track '%s' failed: %s\n", tty ? "\n" : "",
                   options.input.c_str(), static_cast<long long>(record.line), record.id.c_str(),
                   std::string(record.outcome.status.message()).c_str());
    }
    if (absl::Status s = (*writer)->Write(record); !s.ok() && write_status.ok()) write_status = s;
    if (options.progress != ProgressMode::kNone) {
      progress.Update(summary.succeeded + summary.failed, summary.failed);
    }
  };
  if (absl::Status s = engine->Start(on_result); !s.ok()) return s;

  std::unordered_map<std::string, int64_t> first_line;  // this run's ids
  std::vector<models::RawTrack> pending;
  absl::Status engine_status;
  auto flush = [&] {
    if (pending.empty() || !engine_status.ok()) return;
    summary.sent += static_cast<int64_t>(pending.size());
    engine_status = engine->Send(pending, options.options);
    pending.clear();
  };
  CatalogRow row;
  while ((*reader)->Next(&row) && engine_status.ok()) {
    ++summary.rows;
    const bool mine = row.ordinal % options.shard_count == options.shard_index;
    // Every shard sees every id, so a repeated id is the same bad row
    // whichever shard owns it.
    bool repeated = false;
    int64_t first_seen = 0;
    if (row.track.ok()) {
      auto [it, inserted] = first_line.emplace(row.track->id, row.line);
      repeated = !inserted;
      first_seen = it->second;
    }
    if (!mine) {
      ++summary.other_shards;
      continue;
    }
    if (!row.track.ok()) {
      ++summary.bad_rows;
      std::fprintf(log, "%sbad row skipped: %s\n", tty ? "\n" : "",
                   std::string(row.track.status().message()).c_str());
      continue;
    }
    models::RawTrack& t = *row.track;
    if (repeated) {
      ++summary.bad_rows;
      std::fprintf(log, "%sbad row skipped: %s: line %lld: track_id '%s' already at line %lld\n",
                   tty ? "\n" : "", options.input.c_str(), static_cast<long long>(row.line),
                   t.id.c_str(), static_cast<long long>(first_seen));
      continue;
    }
    if (done_ids.count(t.id)) {
      ++summary.already_done;
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      where[t.id] = {row.line, t.genre};
    }
    pending.push_back(std::move(t));
    if (static_cast<int>(pending.size()) >= options.message_tracks) flush();
  }
  flush();
  const absl::Status finish = engine->Finish();
  if (options.progress != ProgressMode::kNone) {
    progress.Finish(summary.succeeded + summary.failed, summary.failed);
  }
  if (!engine_status.ok()) return engine_status;
  if (!finish.ok()) return finish;
  if (!write_status.ok()) return write_status;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.mean_delta = summary.succeeded > 0 ? delta_sum / summary.succeeded : 0;
  return summary;
}

}  // namespace nio::client
