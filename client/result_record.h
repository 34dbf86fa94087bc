// One track's result as every machine output of the CLI writes it: a line
// of `nio batch` JSONL, an element of `nio optimize --format json`'s list,
// and (flattened) a row of the batch CSV. One builder, so the shapes cannot
// drift apart.
//
// The JSON record, keys always present and in this order:
//   id, genre, [key: only in a batch keyed by a column other than track_id
//   and track_genre (--key-column, client/batch_key.h): that column's cell],
//   line (catalog line; null outside a batch), status ("ok" or
//   "error"), error ("" when ok), prediction_before, prediction_raw,
//   prediction_after, delta, improved, steps_run, quality (null when the
//   track failed): {stop_reason ("steps", "target", "converged",
//   "time_budget", "cancelled"), winning_start, objective, distance_l2,
//   distance_l1, features_changed, target_reached (null without a target)},
//   changes: a list, in the model's feature order, of
//   {name, original, optimized, delta, unclamped}.
// The CSV row has the same scalar columns (key among them when the job
// writes it), the quality fields as columns of the same names after
// steps_run, then per output feature
// <name>_original, <name>_optimized, <name>_delta.
#ifndef NIO_CLIENT_RESULT_RECORD_H_
#define NIO_CLIENT_RESULT_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "models/nio_problem.h"
#include "nlohmann/json.hpp"

namespace nio::client {

struct ResultRecord {
  std::string id;
  std::string genre;
  // The --key-column cell, when the job is keyed by a column that neither
  // id nor genre carries.
  std::optional<std::string> key;
  int64_t line = 0;  // in the input catalog (0 when unknown)
  models::TrackOutcome outcome;
};

nlohmann::ordered_json ResultRecordJson(const ResultRecord& record);

// The engine computes in float: a value is printed as the shortest text that
// reads back as the same float ("0.7", not the double 0.699999996123748 that
// float 0.7 widens to), never as "-0".
std::string FloatText(double value);

// The double whose shortest text is FloatText(value), for JSON writers that
// print doubles in their shortest form (nlohmann::json does).
double FloatValue(double value);

// a - b as the printed values give it: FloatValue(a) - FloatValue(b)
// rounded to the decimals of the longer of the two, so a reader's
// after - before equals the printed delta (1.11355, not 1.1135521 or the
// double noise 1.1135499999999965).
double DifferenceValue(double a, double b);

// The shortest text that reads back as the same double ("1.11355").
std::string DoubleText(double value);

}  // namespace nio::client

#endif  // NIO_CLIENT_RESULT_RECORD_H_
