// The request bodies of the HTTP/JSON API (http_json_api.h): the proto3 JSON
// mapping of the nio.v1 request messages (field names as in the proto, enums
// by name, unknown fields refused). Pure functions of the body, so the fuzz
// target of the HTTP request path (tests/fuzz) runs exactly what the
// handlers run, without a server.
#ifndef NIO_SERVICE_HTTP_JSON_BODY_H_
#define NIO_SERVICE_HTTP_JSON_BODY_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "nio/v1/nio.pb.h"

namespace nio::service {

// The body of a unary call as one `out` message; a blank body is the empty
// message. INVALID_ARGUMENT naming the message type and the parser's reason.
absl::Status ParseJsonBody(std::string_view body,
                           google::protobuf::Message* out);

// The body of an OptimizeStream call: one message, else one per line (blank
// lines skipped). INVALID_ARGUMENT naming the line; an empty body is one too.
absl::Status ParseStreamBody(std::string_view body,
                             std::vector<nio::v1::OptimizeStreamRequest>* out);

}  // namespace nio::service

#endif  // NIO_SERVICE_HTTP_JSON_BODY_H_
