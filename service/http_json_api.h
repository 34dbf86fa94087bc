// HttpJsonApi: the nio.v1 API over HTTP/JSON. Each handler parses the body
// as the request message's proto3 JSON, calls the gRPC service over the
// given channel with the deadline the request asks for (grpc-timeout), and
// writes the response message as JSON, or the status as an error
// (http_errors.h). No math and no scheduling here: the gRPC service does it.
#ifndef NIO_SERVICE_HTTP_JSON_API_H_
#define NIO_SERVICE_HTTP_JSON_API_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>

#include "nio/v1/nio.grpc.pb.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace nio::service {

class HttpJsonApi {
 public:
  // gateway_secret: sent with every call (caller_identity.h);
  // default_timeout_s: the deadline of unary calls without grpc-timeout.
  HttpJsonApi(std::shared_ptr<grpc::Channel> channel,
              std::string gateway_secret, double default_timeout_s);

  void GetModel(const httplib::Request& req, httplib::Response& res);
  void Predict(const httplib::Request& req, httplib::Response& res);
  void Optimize(const httplib::Request& req, httplib::Response& res);
  // Answers at once when the call fails before its first event; else streams
  // the events. on_end(http_status) runs once the response has been
  // written or the client has gone (the call is cancelled then).
  void OptimizeStream(const httplib::Request& req, httplib::Response& res,
                      std::function<void(int)> on_end);

 private:
  std::unique_ptr<nio::v1::Nio::Stub> stub_;
  const std::string gateway_secret_;
  const double default_timeout_s_;
};

}  // namespace nio::service

#endif  // NIO_SERVICE_HTTP_JSON_API_H_
