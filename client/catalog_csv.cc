#include "client/catalog_csv.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "models/feature_validity.h"

namespace nio::client {

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  fields.push_back(std::move(field));
  return fields;
}

absl::StatusOr<std::unique_ptr<CatalogReader>> CatalogReader::Open(
    const std::string& path, std::vector<models::FeatureSpec> features) {
  std::unique_ptr<CatalogReader> r(new CatalogReader());
  r->path_ = path;
  r->features_ = std::move(features);
  r->in_.open(path);
  if (!r->in_) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string header;
  if (!std::getline(r->in_, header)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": empty file (no header)"));
  }
  if (header.size() >= 3 && header.compare(0, 3, "\xEF\xBB\xBF") == 0) header.erase(0, 3);
  const std::vector<std::string> columns = SplitCsvLine(header);
  r->header_size_ = columns.size();
  for (size_t c = 0; c < columns.size(); ++c) {
    const std::string name(absl::StripAsciiWhitespace(columns[c]));
    if (name == "track_id") r->id_column_ = static_cast<int>(c);
    if (name == "track_genre" || name == "genre") r->genre_column_ = static_cast<int>(c);
    for (size_t f = 0; f < r->features_.size(); ++f) {
      if (r->features_[f].name == name) {
        r->feature_columns_.emplace_back(static_cast<int>(c),
                                         static_cast<int>(f));
      }
    }
  }
  if (r->id_column_ < 0 || r->genre_column_ < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": line 1: the header needs track_id and track_genre columns"));
  }
  return r;
}

bool CatalogReader::Next(CatalogRow* row) {
  std::string line;
  while (std::getline(in_, line)) {
    ++line_;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    row->line = line_;
    row->ordinal = ordinal_++;
    const std::vector<std::string> fields = SplitCsvLine(line);
    const std::string where = absl::StrCat(path_, ": line ", line_);
    if (fields.size() != header_size_) {
      row->track = absl::InvalidArgumentError(absl::StrCat(
          where, ": ", fields.size(), " fields, the header has ", header_size_));
      return true;
    }
    models::RawTrack t;
    t.id = std::string(absl::StripAsciiWhitespace(fields[id_column_]));
    t.genre = std::string(absl::StripAsciiWhitespace(fields[genre_column_]));
    if (t.id.empty()) {
      row->track = absl::InvalidArgumentError(absl::StrCat(where, ": track_id: empty"));
      return true;
    }
    absl::Status bad;
    for (const auto& [column, feature] : feature_columns_) {
      const models::FeatureSpec& spec = features_[feature];
      const std::string& name = spec.name;
      const std::string text(absl::StripAsciiWhitespace(fields[column]));
      if (text.empty()) continue;  // missing: the model's training mean
      double v = 0;
      const std::string lower = absl::AsciiStrToLower(text);
      if (lower == "true") {
        v = 1;
      } else if (lower == "false") {
        v = 0;
      } else if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
        bad = absl::InvalidArgumentError(
            absl::StrCat(where, ": ", name, ": not a finite number: '", text, "'"));
        break;
      }
      if (absl::Status s = models::CheckFeatureValue(spec, v); !s.ok()) {
        bad = absl::InvalidArgumentError(
            absl::StrCat(where, ": track '", t.id, "': ", s.message()));
        break;
      }
      t.features.emplace_back(name, v);
    }
    if (!bad.ok()) {
      row->track = bad;
    } else {
      row->track = std::move(t);
    }
    return true;
  }
  return false;
}

}  // namespace nio::client
