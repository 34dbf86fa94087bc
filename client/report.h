// Human output of the CLI, like the original app's page: prediction cards,
// suggestions in words, the per-feature table and a bar chart of the changes
// drawn with text. Also JSON for machines.
#ifndef NIO_CLIENT_REPORT_H_
#define NIO_CLIENT_REPORT_H_

#include <string>

#include "client/result_record.h"
#include "models/nio_problem.h"
#include "nio/v1/nio.pb.h"

namespace nio::client {

// The model, its features (ranges, descriptions), genres, presets, backend.
std::string RenderModelInfo(const nio::v1::ModelInfo& info);

struct ReportOptions {
  // The mode the result ran in (labelled in the report).
  models::NioMode mode = models::NioMode::kProjected;
  // For a result that is not improved: show the best feasible point the
  // optimizer reached (table and chart) rather than only saying that no
  // improving change was found.
  bool show_best = false;
};

// A heading with the track's id and genre, before / after / delta cards,
// then for an improved result suggestions, the table (with each feature's
// effective box) and a bar chart; for one that is not improved, "no
// improving change found" (and the best feasible point when
// options.show_best). record.outcome must be OK.
std::string RenderOptimizeReport(const ResultRecord& record,
                                 const nio::v1::ModelInfo& info,
                                 const ReportOptions& options = {});

// A prediction for people: "71.3", or outside popularity's 0..100 the
// model's raw output and what it means, "129.3 (model output; as
// popularity: 100)".
std::string PredictionText(double prediction);

// "projected" or "reference (the original app's semantics: ...)".
std::string ModeLabel(models::NioMode mode);

// "raise danceability 0.37 -> 0.67" lines for the changes that matter (at
// least 1% of the feature's range), largest first.
std::vector<std::string> Suggestions(const models::NioResult& result,
                                     const nio::v1::ModelInfo& info);

}  // namespace nio::client

#endif  // NIO_CLIENT_REPORT_H_
