#include "service/http_json_api.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/caller_identity.h"
#include "service/grpc_timeout.h"
#include "service/http_errors.h"
#include "service/http_json_body.h"
#include "service/status_util.h"

namespace nio::service {
namespace {

using google::protobuf::util::JsonPrintOptions;

constexpr char kJson[] = "application/json";

std::string ToJson(const google::protobuf::Message& message) {
  JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  // Printing a message we built cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

void WriteError(httplib::Response& res, absl::StatusCode code,
                const std::string& message) {
  res.status = HttpStatusFor(code);
  if (code == absl::StatusCode::kUnauthenticated)
    res.set_header("WWW-Authenticate", "Bearer");
  res.set_content(ErrorJson(code, message), kJson);
}

void WriteError(httplib::Response& res, const absl::Status& status) {
  WriteError(res, status.code(), std::string(status.message()));
}

void WriteError(httplib::Response& res, const grpc::Status& status) {
  WriteError(res, FromGrpcStatus(status));
  // Too large is not "retry later" (429): the request must change.
  if (IsMessageSizeError(status)) res.status = 413;
}

// The call's deadline (grpc-timeout, or the default when there is one) and
// the HTTP client's address, which the service shares work fairly under.
absl::Status SetUpContext(const httplib::Request& req,
                          const std::string& secret, double default_s,
                          grpc::ClientContext* context) {
  context->AddMetadata(kHttpPeerMetadata, req.remote_addr);
  context->AddMetadata(kGatewaySecretMetadata, secret);
  // The service checks the token (auth_tokens.h), as for any gRPC call.
  if (req.has_header("Authorization")) {
    const std::string value = req.get_header_value("Authorization");
    // gRPC takes printable ASCII only in metadata (and aborts on the rest).
    for (char c : value) {
      if (c < 0x20 || c > 0x7e) {
        return absl::UnauthenticatedError(
            "Authorization: holds a byte no token has (printable ASCII "
            "only): expected 'Bearer TOKEN'");
      }
    }
    context->AddMetadata(kAuthorizationMetadata, value);
  }
  if (req.has_header("grpc-timeout")) {
    auto timeout = ParseGrpcTimeout(req.get_header_value("grpc-timeout"));
    if (!timeout.ok()) return timeout.status();
    context->set_deadline(std::chrono::system_clock::now() + *timeout);
  } else if (default_s > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::duration_cast<std::chrono::nanoseconds>(
                              std::chrono::duration<double>(default_s)));
  }
  return absl::OkStatus();
}

template <typename Request, typename Response, typename Call>
void Unary(const httplib::Request& req, httplib::Response& res,
           const std::string& secret, double default_s, Call call) {
  Request request;
  if (absl::Status s = ParseJsonBody(req.body, &request); !s.ok()) {
    WriteError(res, s);
    return;
  }
  grpc::ClientContext context;
  if (absl::Status s = SetUpContext(req, secret, default_s, &context);
      !s.ok()) {
    WriteError(res, s);
    return;
  }
  Response response;
  if (grpc::Status s = call(&context, request, &response); !s.ok()) {
    WriteError(res, s);
    return;
  }
  res.status = 200;
  res.set_content(ToJson(response), kJson);
}

// One OptimizeStream call: a thread writes the request messages while the
// HTTP thread reads events, so a stream whose window is full (it stops
// reading until its results are read) cannot block the writer forever.
struct StreamCall {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<nio::v1::OptimizeStreamRequest,
                                           nio::v1::OptimizeStreamResponse>>
      stream;
  std::vector<nio::v1::OptimizeStreamRequest> requests;
  std::thread writer;
  nio::v1::OptimizeStreamResponse first;
  bool first_sent = false;
  bool finished = false;

  // Ends the call: cancels it unless it finished, drains it, joins the
  // writer. Called once, by whoever ends the response.
  grpc::Status End(bool cancel) {
    if (cancel) context.TryCancel();
    nio::v1::OptimizeStreamResponse ignored;
    while (stream->Read(&ignored)) {
    }
    grpc::Status s = stream->Finish();
    if (writer.joinable()) writer.join();
    finished = true;
    return s;
  }
};

}  // namespace

HttpJsonApi::HttpJsonApi(std::shared_ptr<grpc::Channel> channel,
                         std::string gateway_secret, double default_timeout_s)
    : stub_(nio::v1::Nio::NewStub(std::move(channel))),
      gateway_secret_(std::move(gateway_secret)),
      default_timeout_s_(default_timeout_s) {}

void HttpJsonApi::GetModel(const httplib::Request& req,
                           httplib::Response& res) {
  Unary<nio::v1::GetModelRequest, nio::v1::ModelInfo>(
      req, res, gateway_secret_, default_timeout_s_,
      [&](auto* c, const auto& rq, auto* rs) {
        return stub_->GetModel(c, rq, rs);
      });
}

void HttpJsonApi::Predict(const httplib::Request& req, httplib::Response& res) {
  Unary<nio::v1::PredictRequest, nio::v1::PredictResponse>(
      req, res, gateway_secret_, default_timeout_s_,
      [&](auto* c, const auto& rq, auto* rs) {
        return stub_->Predict(c, rq, rs);
      });
}

void HttpJsonApi::Optimize(const httplib::Request& req,
                           httplib::Response& res) {
  Unary<nio::v1::OptimizeRequest, nio::v1::OptimizeResponse>(
      req, res, gateway_secret_, default_timeout_s_,
      [&](auto* c, const auto& rq, auto* rs) {
        return stub_->Optimize(c, rq, rs);
      });
}

void HttpJsonApi::OptimizeStream(const httplib::Request& req,
                                 httplib::Response& res,
                                 std::function<void(int)> on_end) {
  auto call = std::make_shared<StreamCall>();
  absl::Status s = ParseStreamBody(req.body, &call->requests);
  if (s.ok()) s = SetUpContext(req, gateway_secret_, 0, &call->context);
  if (!s.ok()) {
    WriteError(res, s);
    on_end(res.status);
    return;
  }
  call->stream = stub_->OptimizeStream(&call->context);
  StreamCall* raw = call.get();
  call->writer = std::thread([raw] {
    for (const auto& r : raw->requests) {
      if (!raw->stream->Write(r)) return;  // the call ended
    }
    raw->stream->WritesDone();
  });
  // Until the first event the answer can still be a plain HTTP error.
  if (!call->stream->Read(&call->first)) {
    grpc::Status status = call->End(false);
    if (status.ok()) {
      res.status = 200;
      res.set_content("", "application/x-ndjson");
    } else {
      WriteError(res, status);
    }
    on_end(res.status);
    return;
  }
  res.status = 200;
  res.set_chunked_content_provider(
      "application/x-ndjson",
      [call](size_t, httplib::DataSink& sink) {
        nio::v1::OptimizeStreamResponse event;
        if (!call->first_sent) {
          call->first_sent = true;
          event = std::move(call->first);
        } else if (!call->stream->Read(&event)) {
          grpc::Status status = call->End(false);
          if (!status.ok()) {
            const std::string line = absl::StrCat(
                "{\"error\":",
                ErrorJson(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message()),
                "}\n");
            sink.write(line.data(), line.size());
          }
          sink.done();
          return true;
        }
        const std::string line = ToJson(event) + "\n";
        return sink.write(line.data(), line.size());
      },
      [call, on_end = std::move(on_end)](bool) {
        // The client went away (or the write failed): cancel the call.
        if (!call->finished) call->End(true);
        on_end(200);
      });
}

}  // namespace nio::service
