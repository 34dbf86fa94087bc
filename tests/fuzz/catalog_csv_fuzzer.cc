// Fuzz target of the catalog CSV reader (client/catalog_csv.h), the input
// of `nio batch`: the first byte picks the reader's options (bit 0:
// fill_missing_mean; bits 1-2: the key columns, track_id + track_genre,
// track_id, genre or artists), the rest is the CSV text. Reads every row
// with the bundled model's features and featurizes each good one, as the
// batch job's engine does.
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "client/catalog_csv.h"
#include "models/feature_validity.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto& featurizer = nio::fuzz::BundledFeaturizer();
  std::vector<nio::models::FeatureSpec> features;
  for (int c : featurizer.MovableColumns())
    features.push_back(featurizer.Spec().features[c]);
  const bool fill_missing_mean = data[0] & 1;
  const std::vector<std::vector<std::string>> keys = {
      {"track_id", "track_genre"}, {"track_id"}, {"genre"}, {"artists"}};
  const std::vector<std::string>& key_columns = keys[(data[0] >> 1) & 3];

  auto reader = nio::client::CatalogReader::OpenStream(
      std::make_unique<std::istringstream>(
          nio::fuzz::AsString(data + 1, size - 1)),
      "fuzz.csv", features, fill_missing_mean, key_columns);
  if (!reader.ok()) return 0;
  nio::client::CatalogRow row;
  int64_t last_line = 1;
  for (int64_t ordinal = 0; (*reader)->Next(&row); ++ordinal) {
    NIO_FUZZ_CHECK(row.line > last_line, "line numbers must increase");
    NIO_FUZZ_CHECK(row.ordinal == ordinal, "ordinals must count the rows");
    last_line = row.line;
    if (!row.track.ok()) continue;
    NIO_FUZZ_CHECK(row.key.size() == key_columns.size(),
                   "a good row without its key");
    NIO_FUZZ_CHECK(!row.track->id.empty(), "a good row without a track_id");
    for (const auto& [name, value] : row.track->features) {
      const int idx = featurizer.FeatureIndex(name);
      NIO_FUZZ_CHECK(idx >= 0, "an unknown feature '" + name + "'");
      NIO_FUZZ_CHECK(
          nio::models::CheckFeatureValue(featurizer.Spec().features[idx], value)
              .ok(),
          "a good row with an invalid " + name);
    }
    auto x = featurizer.ToScaled(*row.track);
    if (x.ok()) nio::fuzz::CheckScaled(featurizer, *x);
  }
  return 0;
}
