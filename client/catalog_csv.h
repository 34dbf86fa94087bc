// Reads a catalog in the Spotify tracks CSV layout: a header naming
// track_id, the model's features and track_genre; the data set's other
// columns (the unnamed index, artists, album_name, track_name, popularity)
// are ignored. A feature column that is missing, or a column nobody knows
// (a misspelt feature), is an error naming it: the reader never invents a
// value unless asked to (fill_missing_mean: a missing column or an empty cell
// takes the model's default, see models/feature_validity.h). Each data row
// becomes a track or an error with its line number; a bad row never stops
// the read.
// A value the model does not accept (outside the feature's valid range, a
// fraction for an integer or binary feature) makes the row bad, with the
// track, the feature, the value and the range (models/feature_validity.h).
// The reader also hands back the cells of the columns that key a batch job
// (client/batch_key.h), which may name any column of the header.
#ifndef NIO_CLIENT_CATALOG_CSV_H_
#define NIO_CLIENT_CATALOG_CSV_H_

#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/featurizer.h"

namespace nio::client {

struct CatalogRow {
  int64_t line = 0;     // 1-based line number in the file
  int64_t ordinal = 0;  // 0-based index among data rows
  // The key columns' cells, in the order Open was given them; empty when the
  // row has the wrong number of fields (it has no key).
  std::vector<std::string> key;
  absl::StatusOr<models::RawTrack> track;
};

class CatalogReader {
 public:
  // features: the model's features (the non-one-hot ones). key_columns: the
  // columns whose cells each row's `key` holds (track_id, track_genre, which
  // the header may call genre, or any other column, which is then no
  // unknown column; an empty cell of such a column makes the row bad).
  // NOT_FOUND on open; INVALID_ARGUMENT naming the columns when track_id or
  // track_genre is absent, a feature column is missing (unless
  // fill_missing_mean), a column is unknown or a key column is absent.
  static absl::StatusOr<std::unique_ptr<CatalogReader>> Open(
      const std::string& path, std::vector<models::FeatureSpec> features,
      bool fill_missing_mean = false,
      std::vector<std::string> key_columns = {});

  // The same over a stream already open (Open's file, or CSV text in
  // memory); `name` stands for the file in messages.
  static absl::StatusOr<std::unique_ptr<CatalogReader>> OpenStream(
      std::unique_ptr<std::istream> in, std::string name,
      std::vector<models::FeatureSpec> features, bool fill_missing_mean = false,
      std::vector<std::string> key_columns = {});

  // The next data row; false at the end of the file.
  bool Next(CatalogRow* row);

 private:
  CatalogReader() = default;
  std::unique_ptr<std::istream> in_;
  std::string path_;
  size_t header_size_ = 0;
  int id_column_ = -1;
  int genre_column_ = -1;
  std::vector<models::FeatureSpec> features_;
  bool fill_missing_mean_ = false;
  std::vector<std::pair<int, int>>
      feature_columns_;  // (column, features_ index)
  std::vector<std::string> key_names_;
  std::vector<int> key_columns_;  // the header index of each key_names_
  int64_t line_ = 1;
  int64_t ordinal_ = 0;
};

// Splits one CSV line (RFC 4180 quotes, no embedded newlines).
std::vector<std::string> SplitCsvLine(const std::string& line);

}  // namespace nio::client

#endif  // NIO_CLIENT_CATALOG_CSV_H_
