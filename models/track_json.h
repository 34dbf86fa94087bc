// Tracks as JSON, the file format of the CLI, the tests and the reference:
//   {"tracks": [{"id": "a", "genre": "pop", "features": {"energy": 0.5},
//                "options": {"steps": 300, "lr": 0.05, "lambda": 0.1,
//                            "mode": "reference", "mutable_features": [...],
//                            "bounds": {"tempo": {"min": 90, "max": 140,
//                                                 "max_delta": 20},
//                                       "energy": {"direction": "increase"}},
//                            "starts": 8, "target": 70, "tolerance": 1e-4,
//                            "tolerance_window": 20, "time_budget_ms": 100,
//                            "max_changed_features": 3}}]}
// (option names and meanings as nio.v1.OptimizeOptions).
// A bare array of tracks or a single track object is accepted too.
#ifndef NIO_MODELS_TRACK_JSON_H_
#define NIO_MODELS_TRACK_JSON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "models/nio_problem.h"

namespace nio::models {

// INVALID_ARGUMENT naming `source` and the JSON path of the bad field.
// Feature names and values are checked later, against the model.
// The tracks of a JSON file (NOT_FOUND when it cannot be opened).
absl::StatusOr<std::vector<TrackRequest>> ReadTracksJsonFile(
    const std::string& path);

absl::StatusOr<std::vector<TrackRequest>> ParseTracksJson(
    const std::string& text, const std::string& source);

}  // namespace nio::models

#endif  // NIO_MODELS_TRACK_JSON_H_
