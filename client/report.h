// Human output of the CLI, like the original app's page: prediction cards,
// suggestions in words, the per-feature table and a bar chart of the changes
// drawn with text. Also JSON for machines.
#ifndef NIO_CLIENT_REPORT_H_
#define NIO_CLIENT_REPORT_H_

#include <string>

#include "models/nio_problem.h"
#include "nio/v1/nio.pb.h"
#include "nlohmann/json.hpp"

namespace nio::client {

// The model, its features (ranges, descriptions), genres, presets, backend.
std::string RenderModelInfo(const nio::v1::ModelInfo& info);

// Before / after / delta cards, suggestions, table and bar chart.
std::string RenderOptimizeReport(const models::NioResult& result,
                                 const nio::v1::ModelInfo& info);

// "raise danceability 0.37 -> 0.67" lines for the changes that matter (at
// least 1% of the feature's range), largest first.
std::vector<std::string> Suggestions(const models::NioResult& result,
                                     const nio::v1::ModelInfo& info);

nlohmann::json ResultJson(const models::NioResult& result);

}  // namespace nio::client

#endif  // NIO_CLIENT_REPORT_H_
