#include "client/result_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/catalog_csv.h"
#include "nlohmann/json.hpp"

namespace nio::client {
namespace {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c == '\n' ? ' ' : c;
  }
  return out + "\"";
}

// The engine's floats at their own precision (client/result_record.h).
std::string Num(double v) { return FloatText(v); }

}  // namespace

absl::StatusOr<OutputFormat> FormatOf(const std::string& path) {
  if (absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".json"))
    return OutputFormat::kJsonl;
  if (absl::EndsWith(path, ".csv")) return OutputFormat::kCsv;
  return absl::InvalidArgumentError(absl::StrCat(
      "--output ", path,
      ": name it .csv or .jsonl (the format follows the extension)"));
}

absl::Status WriteError(const std::string& path, int error) {
  const std::string message =
      absl::StrCat(path, ": cannot write: ",
                   error != 0 ? std::strerror(error) : "the write failed");
  switch (error) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return absl::ResourceExhaustedError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    default:
      return absl::DataLossError(message);
  }
}

absl::StatusOr<std::unique_ptr<ResultWriter>> ResultWriter::Open(
    const std::string& path, std::vector<std::string> features, bool with_key,
    bool append) {
  std::unique_ptr<ResultWriter> w(new ResultWriter());
  auto format = FormatOf(path);
  if (!format.ok()) return format.status();
  w->format_ = *format;
  w->path_ = path;
  w->features_ = std::move(features);
  w->with_key_ = with_key;
  struct stat st {};
  const bool had_records =
      append && stat(path.c_str(), &st) == 0 && st.st_size > 0;
  w->file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (!w->file_) {
    // A missing folder is not a permission problem: say which it is.
    const std::string why = std::strerror(errno);
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat(path, ": cannot create: its folder does not exist"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot open for writing: ", why));
  }
  if (w->format_ == OutputFormat::kCsv && !had_records) {
    std::vector<std::string> cols = {"id",
                                     "genre",
                                     "line",
                                     "status",
                                     "error",
                                     "prediction_before",
                                     "prediction_raw",
                                     "prediction_after",
                                     "delta",
                                     "improved",
                                     "steps_run",
                                     "stop_reason",
                                     "winning_start",
                                     "objective",
                                     "distance_l2",
                                     "distance_l1",
                                     "features_changed",
                                     "target_reached",
                                     "optimizer",
                                     "starts"};
    if (with_key) cols.insert(cols.begin() + 2, "key");
    for (const auto& f : w->features_) {
      cols.push_back(f + "_original");
      cols.push_back(f + "_optimized");
      cols.push_back(f + "_delta");
    }
    // A header cut short by a full disk fails the job before any track
    // runs (--resume rewrites a file without a whole header).
    if (std::fprintf(w->file_, "%s\n", absl::StrJoin(cols, ",").c_str()) < 0 ||
        std::fflush(w->file_) != 0) {
      return WriteError(path, errno);
    }
  }
  return w;
}

ResultWriter::~ResultWriter() {
  if (file_) std::fclose(file_);
}

absl::Status ResultWriter::Write(const ResultRecord& r) {
  if (!failed_.ok()) return failed_;
  const bool ok = r.outcome.status.ok();
  const models::NioResult& res = r.outcome.result;
  std::string text;
  if (format_ == OutputFormat::kJsonl) {
    text = ResultRecordJson(r).dump() + "\n";
  } else {
    std::vector<std::string> cols = {
        CsvField(r.id), CsvField(r.genre), absl::StrCat(r.line),
        ok ? "ok" : "error",
        ok ? "" : CsvField(std::string(r.outcome.status.message()))};
    if (with_key_) cols.insert(cols.begin() + 2, CsvField(r.key.value_or("")));
    if (ok) {
      for (double v :
           {res.prediction_before, res.prediction_raw, res.prediction_after}) {
        cols.push_back(Num(v));
      }
      cols.push_back(DoubleText(
          DifferenceValue(res.prediction_after, res.prediction_before)));
      cols.push_back(res.quality.improved ? "true" : "false");
      cols.push_back(absl::StrCat(res.steps_run));
      const models::ResultQuality& q = res.quality;
      cols.push_back(models::StopReasonName(q.stop_reason));
      cols.push_back(absl::StrCat(q.winning_start));
      for (double v : {q.objective, q.distance_l2, q.distance_l1})
        cols.push_back(Num(v));
      cols.push_back(absl::StrCat(q.features_changed));
      cols.push_back(!q.target_reached   ? ""
                     : *q.target_reached ? "true"
                                         : "false");
      cols.push_back(models::OptimizerName(q.optimizer));
      cols.push_back(absl::StrCat(q.starts));
    } else {
      cols.insert(cols.end(), 15, "");
    }
    std::map<std::string, const models::FeatureChange*> by_name;
    for (const auto& c : res.changes) by_name[c.name] = &c;
    for (const auto& f : features_) {
      auto it = by_name.find(f);
      if (!ok || it == by_name.end()) {
        cols.insert(cols.end(), 3, "");
      } else {
        cols.push_back(Num(it->second->original));
        cols.push_back(Num(it->second->optimized));
        cols.push_back(DoubleText(
            DifferenceValue(it->second->optimized, it->second->original)));
      }
    }
    text = absl::StrJoin(cols, ",") + "\n";
  }
  // One write + flush per record: a kill leaves at most a partial last line.
  // (glibc drops what a failed flush could not write, so nothing of this
  // record reaches the file later.)
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() ||
      std::fflush(file_) != 0) {
    failed_ = WriteError(path_, errno);
    return failed_;
  }
  return absl::OkStatus();
}

}  // namespace nio::client
