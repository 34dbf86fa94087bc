#include "client/batch_resume.h"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/batch_key.h"
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

absl::StatusOr<ResumeState> PrepareResume(
    const std::string& path, const std::vector<std::string>& key_fields) {
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
  std::vector<int> key_columns(key_fields.size(), -1);  // CSV
  while (std::getline(lines, line)) {
    ++n;
    if (header) {
      header = false;
      const auto columns = SplitCsvLine(line);
      for (size_t c = 0; c < columns.size(); ++c) {
        if (columns[c] == "status") status_column = static_cast<int>(c);
        for (size_t k = 0; k < key_fields.size(); ++k) {
          if (columns[c] == key_fields[k]) key_columns[k] = static_cast<int>(c);
        }
      }
      if (columns.empty() || columns[0] != "id" || status_column < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": line 1: not a batch result header"));
      }
      for (size_t k = 0; k < key_fields.size(); ++k) {
        if (key_columns[k] < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": line 1: no ", key_fields[k],
                           " column to rebuild each result's key from"));
        }
      }
      kept += line + "\n";
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> key;
    std::string status;
    const auto not_a_record = absl::InvalidArgumentError(
        absl::StrCat(path, ": line ", n, ": not a result record with ",
                     absl::StrJoin(key_fields, ", "), " and status"));
    if (*format == OutputFormat::kJsonl) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("status") ||
          !j["status"].is_string()) {
        return not_a_record;
      }
      for (const std::string& field : key_fields) {
        if (!j.contains(field) || !j[field].is_string()) return not_a_record;
        key.push_back(j[field].get<std::string>());
      }
      status = j["status"].get<std::string>();
    } else {
      const auto fields = SplitCsvLine(line);
      if (static_cast<int>(fields.size()) <= status_column) return not_a_record;
      for (int column : key_columns) {
        if (column >= static_cast<int>(fields.size())) return not_a_record;
        key.push_back(fields[column]);
      }
      status = fields[status_column];
    }
    if (status != "ok") {
      ++state.retry;
      continue;
    }
    state.done.insert(EncodeKey(key));
    kept += line + "\n";
  }
  if (kept.size() != text.size()) {
    // Rewrite through a temporary file so a kill now loses nothing. The
    // check follows the close, which writes the last of it: a full disk
    // must not rename a cut copy over the results.
    const std::string tmp = path + ".resume.tmp";
    {
      std::ofstream out(tmp, std::ios::binary);
      out << kept;
      out.close();
      if (!out) {
        const int error = errno;
        std::remove(tmp.c_str());
        return WriteError(tmp, error);
      }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      const int error = errno;
      std::remove(tmp.c_str());
      return WriteError(path, error);
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
