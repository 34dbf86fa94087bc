#include "client/batch_resume.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/catalog_csv.h"
#include "client/result_writer.h"
#include "nlohmann/json.hpp"

namespace nio::client {
namespace {

// A word as a POSIX shell reads it back.
std::string ShellQuote(const std::string& word) {
  if (!word.empty() &&
      word.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
          "0123456789-_./:=,+@%") == std::string::npos) {
    return word;
  }
  std::string out = "'";
  for (char c : word)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

absl::StatusOr<ResumeState> PrepareResume(const std::string& path) {
  ResumeState state;
  std::ifstream in(path, std::ios::binary);
  if (!in) return state;
  auto format = FormatOf(path);
  if (!format.ok()) return format.status();
  std::stringstream buffer;
  buffer << in.rdbuf();
  in.close();
  const std::string text = buffer.str();
  // Everything after the last newline is a partial record.
  const size_t complete =
      text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  std::istringstream lines(text.substr(0, complete));
  std::string line, kept;
  bool header = *format == OutputFormat::kCsv;
  int64_t n = 0;
  int status_column = -1;
  while (std::getline(lines, line)) {
    ++n;
    if (header) {
      header = false;
      const auto columns = SplitCsvLine(line);
      for (size_t c = 0; c < columns.size(); ++c) {
        if (columns[c] == "status") status_column = static_cast<int>(c);
      }
      if (columns.empty() || columns[0] != "id" || status_column < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": line 1: not a batch result header"));
      }
      kept += line + "\n";
      continue;
    }
    if (line.empty()) continue;
    std::string id, status;
    if (*format == OutputFormat::kJsonl) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("id") || !j.contains("status")) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": line ", n, ": not a result record"));
      }
      id = j["id"].get<std::string>();
      status = j["status"].get<std::string>();
    } else {
      const auto fields = SplitCsvLine(line);
      if (static_cast<int>(fields.size()) <= status_column) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": line ", n, ": not a result record"));
      }
      id = fields[0];
      status = fields[status_column];
    }
    if (status != "ok") {
      ++state.retry;
      continue;
    }
    state.done.insert(id);
    kept += line + "\n";
  }
  if (kept.size() != text.size()) {
    // Rewrite through a temporary file so a kill now loses nothing.
    const std::string tmp = path + ".resume.tmp";
    {
      std::ofstream out(tmp, std::ios::binary);
      out << kept;
      if (!out)
        return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot write"));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat(path, ": cannot rewrite"));
    }
  }
  return state;
}

std::string ResumeCommand(const std::vector<std::string>& argv) {
  std::vector<std::string> words;
  bool resume = false;
  for (const std::string& a : argv) {
    if (a == "--overwrite") continue;
    if (a == "--resume") resume = true;
    words.push_back(ShellQuote(a));
  }
  if (!resume) words.push_back("--resume");
  return absl::StrJoin(words, " ");
}

}  // namespace nio::client
