#include "client/result_writer.h"

#include <sys/stat.h>
#include <unistd.h>

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

std::string Num(double v) { return absl::StrFormat("%.6g", v); }

}  // namespace

absl::StatusOr<OutputFormat> FormatOf(const std::string& path) {
  if (absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".json")) return OutputFormat::kJsonl;
  if (absl::EndsWith(path, ".csv")) return OutputFormat::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("--output ", path, ": name it .csv or .jsonl (the format follows the extension)"));
}

absl::StatusOr<std::unordered_set<std::string>> ReadDoneIds(const std::string& path) {
  std::unordered_set<std::string> ids;
  std::ifstream in(path, std::ios::binary);
  if (!in) return ids;
  auto format = FormatOf(path);
  if (!format.ok()) return format.status();
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  // Everything after the last newline is a partial record: cut it off.
  const size_t complete = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  if (complete < text.size()) {
    if (truncate(path.c_str(), static_cast<off_t>(complete)) != 0) {
      return absl::InternalError(absl::StrCat(path, ": cannot drop the partial last record"));
    }
  }
  std::istringstream lines(text.substr(0, complete));
  std::string line;
  bool header = *format == OutputFormat::kCsv;
  int64_t n = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (header) {
      header = false;
      continue;
    }
    if (line.empty()) continue;
    if (*format == OutputFormat::kJsonl) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("id")) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": line ", n, ": not a result record"));
      }
      ids.insert(j["id"].get<std::string>());
    } else {
      ids.insert(SplitCsvLine(line)[0]);
    }
  }
  return ids;
}

absl::StatusOr<std::unique_ptr<ResultWriter>> ResultWriter::Open(
    const std::string& path, std::vector<std::string> features, bool append) {
  std::unique_ptr<ResultWriter> w(new ResultWriter());
  auto format = FormatOf(path);
  if (!format.ok()) return format.status();
  w->format_ = *format;
  w->features_ = std::move(features);
  struct stat st {};
  const bool had_records = append && stat(path.c_str(), &st) == 0 && st.st_size > 0;
  w->file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (!w->file_) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for writing"));
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
                                     "steps_run"};
    for (const auto& f : w->features_) {
      cols.push_back(f + "_original");
      cols.push_back(f + "_optimized");
      cols.push_back(f + "_delta");
    }
    std::fprintf(w->file_, "%s\n", absl::StrJoin(cols, ",").c_str());
    std::fflush(w->file_);
  }
  return w;
}

ResultWriter::~ResultWriter() {
  if (file_) std::fclose(file_);
}

absl::Status ResultWriter::Write(const ResultRecord& r) {
  const bool ok = r.outcome.status.ok();
  const models::NioResult& res = r.outcome.result;
  std::string text;
  if (format_ == OutputFormat::kJsonl) {
    nlohmann::json j = {{"id", r.id}, {"genre", r.genre}, {"line", r.line},
                        {"status", ok ? "ok" : "error"}};
    if (!ok) {
      j["error"] = std::string(r.outcome.status.message());
    } else {
      j["prediction_before"] = res.prediction_before;
      j["prediction_raw"] = res.prediction_raw;
      j["prediction_after"] = res.prediction_after;
      j["delta"] = res.delta;
      j["improved"] = res.quality.improved;
      j["steps_run"] = res.steps_run;
      nlohmann::json changes = nlohmann::json::object();
      for (const auto& c : res.changes) {
        changes[c.name] = {{"original", c.original}, {"optimized", c.optimized},
                           {"delta", c.delta}};
      }
      j["changes"] = changes;
    }
    text = j.dump() + "\n";
  } else {
    std::vector<std::string> cols = {CsvField(r.id), CsvField(r.genre), absl::StrCat(r.line),
                                     ok ? "ok" : "error",
                                     ok ? "" : CsvField(std::string(r.outcome.status.message()))};
    if (ok) {
      for (double v : {res.prediction_before, res.prediction_raw, res.prediction_after, res.delta}) {
        cols.push_back(Num(v));
      }
      cols.push_back(res.quality.improved ? "true" : "false");
      cols.push_back(absl::StrCat(res.steps_run));
    } else {
      cols.insert(cols.end(), 6, "");
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
        cols.push_back(Num(it->second->delta));
      }
    }
    text = absl::StrJoin(cols, ",") + "\n";
  }
  // One write + flush per record: a kill leaves at most a partial last line.
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0) {
    return absl::DataLossError("cannot write the output file (disk full?)");
  }
  return absl::OkStatus();
}

}  // namespace nio::client
