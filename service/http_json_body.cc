#include "service/http_json_body.h"

#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace nio::service {
namespace {

absl::Status ParseJson(std::string_view json, google::protobuf::Message* out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), out, options);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request body: not a ", out->GetDescriptor()->full_name(),
                     " in JSON: ", std::string(s.message())));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseJsonBody(std::string_view body,
                           google::protobuf::Message* out) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return absl::OkStatus();
  return ParseJson(body, out);
}

absl::Status ParseStreamBody(std::string_view body,
                             std::vector<nio::v1::OptimizeStreamRequest>* out) {
  nio::v1::OptimizeStreamRequest one;
  absl::Status whole = ParseJson(body, &one);
  if (whole.ok()) {
    out->push_back(std::move(one));
    return absl::OkStatus();
  }
  int line_no = 0;
  for (absl::string_view piece :
       absl::StrSplit(absl::string_view(body.data(), body.size()), '\n')) {
    const std::string_view line(piece.data(), piece.size());
    ++line_no;
    if (absl::StripAsciiWhitespace(piece).empty()) continue;
    nio::v1::OptimizeStreamRequest r;
    if (absl::Status s = ParseJson(line, &r); !s.ok()) {
      // One line: the whole body's error says it best.
      if (out->empty() && line_no == 1 &&
          body.find('\n') == std::string_view::npos)
        return whole;
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_no, ": ", s.message()));
    }
    out->push_back(std::move(r));
  }
  if (out->empty()) {
    return absl::InvalidArgumentError(
        "request body: empty; expected an OptimizeStreamRequest in JSON, or "
        "one per line");
  }
  return absl::OkStatus();
}

}  // namespace nio::service
