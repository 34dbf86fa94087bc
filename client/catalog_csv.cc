#include "client/catalog_csv.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "models/feature_validity.h"

namespace nio::client {
namespace {

// The data set's columns that are neither the id, the genre nor a feature.
// (An unnamed column, pandas' "Unnamed: i", is ignored too unless the model
// has a feature of that name.)
const std::set<std::string> kIgnoredColumns = {"artists", "album_name",
                                               "track_name", "popularity"};

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The feature a misspelt column most likely means, or "".
std::string NearestName(const std::string& name,
                        const std::vector<models::FeatureSpec>& features) {
  std::string best;
  size_t best_distance = 3;  // at most two edits
  const std::string lower = absl::AsciiStrToLower(name);
  for (const models::FeatureSpec& f : features) {
    // Names whose lengths differ by more than two are more than two edits
    // apart: no need to fill the table (a long unknown column costs O(n)).
    if (lower.size() > f.name.size() + 2 || f.name.size() > lower.size() + 2)
      continue;
    const size_t d = EditDistance(lower, f.name);
    if (d < best_distance) best = f.name, best_distance = d;
  }
  return best;
}

}  // namespace

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
    const std::string& path, std::vector<models::FeatureSpec> features,
    bool fill_missing_mean, std::vector<std::string> key_columns) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": a directory, not a CSV file"));
  }
  auto in = std::make_unique<std::ifstream>(path);
  if (!*in) {
    return std::filesystem::exists(path, error)
               ? absl::PermissionDeniedError(
                     absl::StrCat(path, ": cannot read"))
               : absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  return OpenStream(std::move(in), path, std::move(features), fill_missing_mean,
                    std::move(key_columns));
}

absl::StatusOr<std::unique_ptr<CatalogReader>> CatalogReader::OpenStream(
    std::unique_ptr<std::istream> in, std::string name,
    std::vector<models::FeatureSpec> features, bool fill_missing_mean,
    std::vector<std::string> key_columns) {
  std::unique_ptr<CatalogReader> r(new CatalogReader());
  r->in_ = std::move(in);
  r->path_ = std::move(name);
  const std::string& path = r->path_;
  r->features_ = std::move(features);
  r->fill_missing_mean_ = fill_missing_mean;
  r->key_names_ = std::move(key_columns);
  r->key_columns_.assign(r->key_names_.size(), -1);
  std::string header;
  if (!std::getline(*r->in_, header)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": empty file (no header)"));
  }
  if (header.size() >= 3 && header.compare(0, 3, "\xEF\xBB\xBF") == 0)
    header.erase(0, 3);
  const std::vector<std::string> columns = SplitCsvLine(header);
  r->header_size_ = columns.size();
  std::vector<bool> found(r->features_.size(), false);
  std::vector<std::string> unknown, names;
  for (size_t c = 0; c < columns.size(); ++c) {
    std::string name(absl::StripAsciiWhitespace(columns[c]));
    // pandas' name for an empty header cell, which models trained on the
    // data set's index column use.
    if (name.empty()) name = absl::StrCat("Unnamed: ", c);
    names.push_back(name);
    bool known = false;
    if (name == "track_id") r->id_column_ = static_cast<int>(c), known = true;
    if (name == "track_genre" || name == "genre") {
      r->genre_column_ = static_cast<int>(c);
      known = true;
    }
    for (size_t k = 0; k < r->key_names_.size(); ++k) {
      if (r->key_names_[k] == name) {
        r->key_columns_[k] = static_cast<int>(c);
        known = true;
      }
    }
    for (size_t f = 0; f < r->features_.size(); ++f) {
      if (r->features_[f].name == name) {
        r->feature_columns_.emplace_back(static_cast<int>(c),
                                         static_cast<int>(f));
        found[f] = known = true;
      }
    }
    if (!known && !kIgnoredColumns.count(name) &&
        !absl::StartsWith(name, "Unnamed: ")) {
      unknown.push_back(name);
    }
  }
  if (r->id_column_ < 0 || r->genre_column_ < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": line 1: the header needs track_id and track_genre columns"));
  }
  for (size_t k = 0; k < r->key_names_.size(); ++k) {
    // The genre column goes by either name; the key says which it means.
    const std::string& key = r->key_names_[k];
    if (key == "track_genre" || key == "genre") {
      r->key_columns_[k] = r->genre_column_;
    }
    if (r->key_columns_[k] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": line 1: no column '", key,
                       "' to key the rows by (--key-column); the header has ",
                       absl::StrJoin(names, ", ")));
    }
  }
  std::vector<std::string> missing;
  for (size_t f = 0; f < r->features_.size(); ++f) {
    if (!found[f]) missing.push_back(r->features_[f].name);
  }
  if (!unknown.empty()) {
    std::vector<std::string> named;
    for (const std::string& u : unknown) {
      const std::string near = NearestName(u, r->features_);
      named.push_back(absl::StrCat(
          "'", u, "'",
          near.empty() ? "" : absl::StrCat(" (did you mean '", near, "'?)")));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": line 1: unknown column", unknown.size() > 1 ? "s " : " ",
        absl::StrJoin(named, ", "),
        "; the columns are track_id, track_genre, the model's features (nio "
        "info) and ",
        absl::StrJoin(kIgnoredColumns, ", "),
        " (ignored, as are unnamed ones)"));
  }
  if (!missing.empty() && !fill_missing_mean) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": line 1: missing feature column",
        missing.size() > 1 ? "s " : " ", absl::StrJoin(missing, ", "), "; add ",
        missing.size() > 1 ? "them" : "it",
        ", or pass --fill-missing mean to give every track the "
        "model's default (the training mean; see nio info)"));
  }
  return r;
}

bool CatalogReader::Next(CatalogRow* row) {
  std::string line;
  while (std::getline(*in_, line)) {
    ++line_;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    row->line = line_;
    row->ordinal = ordinal_++;
    row->key.clear();
    const std::vector<std::string> fields = SplitCsvLine(line);
    const std::string where = absl::StrCat(path_, ": line ", line_);
    if (fields.size() != header_size_) {
      row->track = absl::InvalidArgumentError(
          absl::StrCat(where, ": ", fields.size(), " fields, the header has ",
                       header_size_));
      return true;
    }
    models::RawTrack t;
    t.id = std::string(absl::StripAsciiWhitespace(fields[id_column_]));
    t.genre = std::string(absl::StripAsciiWhitespace(fields[genre_column_]));
    for (int column : key_columns_) {
      row->key.emplace_back(absl::StripAsciiWhitespace(fields[column]));
    }
    if (t.id.empty()) {
      row->track =
          absl::InvalidArgumentError(absl::StrCat(where, ": track_id: empty"));
      return true;
    }
    // An empty genre is the engine's to refuse (a failed track); an empty
    // cell of another key column would make every such row one key.
    for (size_t k = 0; k < key_columns_.size(); ++k) {
      if (key_columns_[k] != id_column_ && key_columns_[k] != genre_column_ &&
          row->key[k].empty()) {
        row->track = absl::InvalidArgumentError(absl::StrCat(
            where, ": ", key_names_[k], ": empty (it keys the rows)"));
        return true;
      }
    }
    absl::Status bad;
    for (const auto& [column, feature] : feature_columns_) {
      const models::FeatureSpec& spec = features_[feature];
      const std::string& name = spec.name;
      const std::string text(absl::StripAsciiWhitespace(fields[column]));
      if (text.empty()) {
        if (fill_missing_mean_) continue;  // the model's default
        bad = absl::InvalidArgumentError(absl::StrCat(
            where, ": track '", t.id, "': ", name,
            ": empty (pass --fill-missing mean to take the model's default)"));
        break;
      }
      double v = 0;
      const std::string lower = absl::AsciiStrToLower(text);
      if (lower == "true") {
        v = 1;
      } else if (lower == "false") {
        v = 0;
      } else if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
        bad = absl::InvalidArgumentError(absl::StrCat(
            where, ": ", name, ": not a finite number: '", text, "'"));
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
