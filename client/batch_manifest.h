// What shaped a batch output: the model and every option that changes a
// result or the file's columns. Written beside the output
// (`<output>.manifest.json`) when a job starts; `--resume` reads it back and
// refuses to append results made with other options (rows of another shape
// under the old header, or other steps mixed in without a word).
#ifndef NIO_CLIENT_BATCH_MANIFEST_H_
#define NIO_CLIENT_BATCH_MANIFEST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/nio_problem.h"

namespace nio::client {

// Options are stored as they take effect (the model's defaults filled in,
// the moving features in model order), so spelling a default out or
// listing features in another order continues a job.
struct BatchManifest {
  std::string model_name;
  std::string model_version;
  models::NioOptions options;                // steps, lr, lambda and mode set
  std::vector<std::string> output_features;  // the features that move
  bool fill_missing_mean = false;
  // The columns that key the rows (client/batch_key.h): a resume under
  // another key would skip and repeat the wrong rows.
  std::vector<std::string> key;
  std::string shard;  // "I/N", or "" for the whole catalog
};

// `<output>.manifest.json`.
std::string ManifestPath(const std::string& output);

absl::Status WriteManifest(const std::string& output,
                           const BatchManifest& manifest);

// NOT_FOUND when the output has no manifest; INVALID_ARGUMENT naming the
// file when it cannot be read. A manifest of nio before keys (version 1)
// reads as keyed by track_id, the key it used, so its jobs continue under
// --key-column track_id; its shard (every N-th row, not a key's hash) is
// named so, so no sharded job continues under the other split.
absl::StatusOr<BatchManifest> ReadManifest(const std::string& output);

// OK when results made under `previous` may be continued under `now`;
// FAILED_PRECONDITION naming the first option that differs and both values
// otherwise.
absl::Status CheckSameShape(const BatchManifest& previous,
                            const BatchManifest& now);

}  // namespace nio::client

#endif  // NIO_CLIENT_BATCH_MANIFEST_H_
