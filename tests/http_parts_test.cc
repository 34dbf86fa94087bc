// The HTTP port's pieces against their specifications: the grpc-timeout
// header grammar, grpc-gateway's status mapping, and the Prometheus text
// format (escaping, cumulative histogram buckets).
#include <chrono>

#include "gtest/gtest.h"
#include "service/grpc_timeout.h"
#include "service/http_errors.h"
#include "service/prometheus_text.h"

namespace nio::service {
namespace {

using namespace std::chrono;

TEST(GrpcTimeoutTest, ParsesEveryUnitAndRefusesTheRest) {
  EXPECT_EQ(*ParseGrpcTimeout("2H"), hours(2));
  EXPECT_EQ(*ParseGrpcTimeout("3M"), minutes(3));
  EXPECT_EQ(*ParseGrpcTimeout("10S"), seconds(10));
  EXPECT_EQ(*ParseGrpcTimeout("500m"), milliseconds(500));
  EXPECT_EQ(*ParseGrpcTimeout("7u"), microseconds(7));
  EXPECT_EQ(*ParseGrpcTimeout("99999999n"), nanoseconds(99999999));
  // Past a century a timeout is a century: 99999999H overflowed nanoseconds
  // (UB), and a deadline now + 2500000H a time point.
  EXPECT_EQ(*ParseGrpcTimeout("876000H"), kMaxGrpcTimeout);
  EXPECT_EQ(*ParseGrpcTimeout("876001H"), kMaxGrpcTimeout);
  EXPECT_EQ(*ParseGrpcTimeout("2500000H"), kMaxGrpcTimeout);
  EXPECT_EQ(*ParseGrpcTimeout("99999999H"), kMaxGrpcTimeout);
  EXPECT_EQ(*ParseGrpcTimeout("99999999M"), kMaxGrpcTimeout);
  EXPECT_EQ(*ParseGrpcTimeout("52559999M"), minutes(52559999));
  for (const char* bad :
       {"", "S", "5", "5s", "-5S", "123456789S", "1.5S", "5 S"}) {
    auto r = ParseGrpcTimeout(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("grpc-timeout"),
              absl::string_view::npos);
  }
}

TEST(HttpErrorsTest, MapsCodesAsGrpcGatewayDoes) {
  using C = absl::StatusCode;
  const std::pair<C, int> table[] = {{C::kOk, 200},
                                     {C::kCancelled, 499},
                                     {C::kUnknown, 500},
                                     {C::kInvalidArgument, 400},
                                     {C::kDeadlineExceeded, 504},
                                     {C::kNotFound, 404},
                                     {C::kAlreadyExists, 409},
                                     {C::kPermissionDenied, 403},
                                     {C::kResourceExhausted, 429},
                                     {C::kFailedPrecondition, 400},
                                     {C::kAborted, 409},
                                     {C::kOutOfRange, 400},
                                     {C::kUnimplemented, 501},
                                     {C::kInternal, 500},
                                     {C::kUnavailable, 503},
                                     {C::kDataLoss, 500},
                                     {C::kUnauthenticated, 401}};
  for (const auto& [code, http] : table) {
    EXPECT_EQ(HttpStatusFor(code), http) << absl::StatusCodeToString(code);
  }
  EXPECT_EQ(
      ErrorJson(C::kInvalidArgument, "tracks[0].id: \"x\"\n"),
      R"({"code":3,"message":"tracks[0].id: \"x\"\n","status":"INVALID_ARGUMENT"})");
}

TEST(PrometheusTextTest, EscapesLabelsAndWritesCumulativeBuckets) {
  PrometheusText out;
  out.Family("x_total", "counter", "a \\ help\nline");
  out.Sample("x_total", {{"path", "a\"b\\c\nd"}}, 3);
  out.Family("h", "histogram", "rows");
  const double bounds[] = {1, 2.5};
  const int64_t counts[] = {2, 0, 5};
  out.Histogram("h", {{"class", "batch"}}, bounds, counts, 17.5);
  EXPECT_EQ(out.text(),
            "# HELP x_total a \\\\ help\\nline\n"
            "# TYPE x_total counter\n"
            "x_total{path=\"a\\\"b\\\\c\\nd\"} 3\n"
            "# HELP h rows\n"
            "# TYPE h histogram\n"
            "h_bucket{class=\"batch\",le=\"1\"} 2\n"
            "h_bucket{class=\"batch\",le=\"2.5\"} 2\n"
            "h_bucket{class=\"batch\",le=\"+Inf\"} 7\n"
            "h_sum{class=\"batch\"} 17.5\n"
            "h_count{class=\"batch\"} 7\n");
  EXPECT_EQ(PrometheusNumber(1e-4), "0.0001");
  EXPECT_EQ(PrometheusNumber(0.1), "0.1");
  EXPECT_EQ(PrometheusNumber(0.001214522), "0.001214522");
  EXPECT_EQ(PrometheusNumber(2944229376), "2944229376");
  EXPECT_EQ(PrometheusNumber(30), "30");
  EXPECT_EQ(PrometheusNumber(-0.5), "-0.5");
  EXPECT_EQ(PrometheusNumber(1.0 / 0.0), "+Inf");
}

}  // namespace
}  // namespace nio::service
