// The real nio-server binary's HTTP port: every endpoint, over a real HTTP
// client, answers what the gRPC port answers for the same request; errors
// carry the mapped HTTP status and the offending field; /readyz turns 503
// while the server drains.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nio/v1/nio.grpc.pb.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace nio {
namespace {

using nio::testing::ChildProcess;
using namespace std::chrono_literals;
using google::protobuf::util::MessageDifferencer;

class HttpE2ETest : public ::testing::Test {
 protected:
  // model_dir empty: the bundled model.
  void StartServer(std::vector<std::string> flags = {},
                   std::string model_dir = nio::testing::TestDataDir() +
                                           "/tiny_model") {
    std::vector<std::string> argv = {
        NIO_SERVER_BINARY, "--listen",  "127.0.0.1:0", "--http_listen",
        "127.0.0.1:0",     "--backend", "cpu"};
    if (!model_dir.empty()) {
      argv.push_back("--model_dir");
      argv.push_back(model_dir);
    }
    argv.insert(argv.end(), flags.begin(), flags.end());
    server_ = std::make_unique<ChildProcess>(argv);
    ASSERT_TRUE(server_->WaitForOutput("(HTTP)", 60s)) << server_->output();
    std::smatch m;
    const std::string out = server_->output();
    ASSERT_TRUE(std::regex_search(
        out, m,
        std::regex("listening on ([0-9.]+:[0-9]+) \\(gRPC\\), "
                   "http://([0-9.]+):([0-9]+) \\(HTTP\\)")))
        << out;
    stub_ = nio::v1::Nio::NewStub(
        grpc::CreateChannel(m[1], grpc::InsecureChannelCredentials()));
    host_ = m[2];
    port_ = std::stoi(m[3]);
    http_ = NewClient();
  }

  // A client of its own, for a thread of its own.
  std::unique_ptr<httplib::Client> NewClient() const {
    auto c = std::make_unique<httplib::Client>(host_, port_);
    c->set_read_timeout(120, 0);
    return c;
  }

  template <typename Message>
  static Message FromJson(const std::string& json) {
    Message m;
    auto s = google::protobuf::util::JsonStringToMessage(json, &m);
    EXPECT_TRUE(s.ok()) << s.message() << " in " << json;
    return m;
  }

  httplib::Result Post(const std::string& path, const std::string& body,
                       const httplib::Headers& headers = {}) {
    return http_->Post(path.c_str(), headers, body, "application/json");
  }

  static std::string TwoTracks() {
    return R"({"tracks": [
      {"id": "a", "genre": "pop", "features": {"danceability": 0.3, "energy": 0.4}},
      {"id": "b", "genre": "edm", "features": {"tempo": 150, "valence": 0.2}}],
      "options": {"steps": 40, "progress_every": 10}})";
  }

  std::unique_ptr<ChildProcess> server_;
  std::unique_ptr<nio::v1::Nio::Stub> stub_;
  std::unique_ptr<httplib::Client> http_;
  std::string host_;
  int port_ = 0;
};

TEST_F(HttpE2ETest, GetModelPredictAndOptimizeEqualTheGrpcAnswers) {
  StartServer();
  {
    auto res = http_->Get("/v1/model");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    grpc::ClientContext ctx;
    nio::v1::ModelInfo grpc_answer;
    ASSERT_TRUE(stub_->GetModel(&ctx, {}, &grpc_answer).ok());
    EXPECT_TRUE(MessageDifferencer::Equals(
        FromJson<nio::v1::ModelInfo>(res->body), grpc_answer));
    // Field names as in the proto, zero values written out.
    EXPECT_NE(res->body.find("\"default_options\""), std::string::npos);
  }
  {
    const std::string body = R"({"tracks": [
      {"id": "a", "genre": "pop", "features": {"danceability": 0.3, "energy": 0.4}},
      {"id": "b", "genre": "edm", "features": {"tempo": 150, "valence": 0.2}}]})";
    auto res = Post("/v1/predict", body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    grpc::ClientContext ctx;
    nio::v1::PredictResponse grpc_answer;
    auto request = FromJson<nio::v1::PredictRequest>(body);
    ASSERT_TRUE(stub_->Predict(&ctx, request, &grpc_answer).ok());
    auto http_answer = FromJson<nio::v1::PredictResponse>(res->body);
    ASSERT_EQ(http_answer.predictions_size(), 2);
    EXPECT_TRUE(MessageDifferencer::Equals(http_answer, grpc_answer))
        << res->body;
  }
  {
    const std::string body = TwoTracks();
    auto res = Post("/v1/optimize", body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    grpc::ClientContext ctx;
    nio::v1::OptimizeResponse grpc_answer;
    ASSERT_TRUE(stub_
                    ->Optimize(&ctx, FromJson<nio::v1::OptimizeRequest>(body),
                               &grpc_answer)
                    .ok());
    auto http_answer = FromJson<nio::v1::OptimizeResponse>(res->body);
    ASSERT_EQ(http_answer.results_size(), 2);
    EXPECT_GT(http_answer.results(0).prediction_after(),
              http_answer.results(0).prediction_before());
    EXPECT_TRUE(MessageDifferencer::Equals(http_answer, grpc_answer))
        << res->body;
  }
}

TEST_F(HttpE2ETest, TheStreamSendsProgressThenEachResultOnceAsNdjson) {
  StartServer();
  const std::string body = TwoTracks();
  auto res = Post("/v1/optimize/stream", body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/x-ndjson");
  std::map<std::string, nio::v1::TrackResult> results;
  std::map<std::string, std::vector<int>> progress_steps;
  std::istringstream lines(res->body);
  for (std::string line; std::getline(lines, line);) {
    auto event = FromJson<nio::v1::OptimizeStreamResponse>(line);
    if (event.has_result()) {
      EXPECT_TRUE(results.emplace(event.result().id(), event.result()).second)
          << "answered twice: " << event.result().id();
      EXPECT_EQ(progress_steps[event.result().id()].size(), 4u)
          << "its progress came first";
    } else {
      ASSERT_TRUE(event.has_progress()) << line;
      progress_steps[event.progress().id()].push_back(event.progress().step());
    }
  }
  ASSERT_EQ(results.size(), 2u) << res->body;
  EXPECT_EQ(progress_steps["a"], (std::vector<int>{10, 20, 30, 40}));
  // The same tracks as a unary gRPC call: the same answers.
  grpc::ClientContext ctx;
  nio::v1::OptimizeResponse unary;
  ASSERT_TRUE(
      stub_->Optimize(&ctx, FromJson<nio::v1::OptimizeRequest>(body), &unary)
          .ok());
  for (const auto& r : unary.results()) {
    EXPECT_TRUE(MessageDifferencer::Equals(results[r.id()], r)) << r.id();
  }
  // One message per line works too, and a bad line is named.
  auto two_lines =
      Post("/v1/optimize/stream",
           "{\"tracks\": [{\"id\": \"x\", \"genre\": \"pop\"}]}\n"
           "{\"tracks\": [{\"id\": \"y\", \"genre\": \"sad\"}]}\n");
  ASSERT_TRUE(two_lines);
  EXPECT_EQ(std::count(two_lines->body.begin(), two_lines->body.end(), '\n'), 2)
      << two_lines->body;
  auto bad_line = Post("/v1/optimize/stream",
                       "{\"tracks\": [{\"id\": \"x\", \"genre\": \"pop\"}]}\n"
                       "{\"tracks\": 7}\n");
  ASSERT_TRUE(bad_line);
  EXPECT_EQ(bad_line->status, 400);
  EXPECT_NE(bad_line->body.find("line 2"), std::string::npos) << bad_line->body;
}

TEST_F(HttpE2ETest, ErrorsMapToHttpStatusesAndNameTheField) {
  StartServer({"--http_max_body_bytes", "100000", "--max_queue", "1",
               "--max_batch", "1", "--interactive_slots", "0"});
  struct Case {
    std::string path, body;
    httplib::Headers headers;
    int status;
    std::string code, needle;
  };
  const std::vector<Case> cases = {
      {"/v1/optimize", "{\"trax\": 1}", {}, 400, "INVALID_ARGUMENT", "trax"},
      {"/v1/optimize", "not json", {}, 400, "INVALID_ARGUMENT", "request body"},
      {"/v1/optimize",
       R"({"tracks": [{"id": "a", "genre": "pop", "features": {"bogus": 1}}]})",
       {},
       400,
       "INVALID_ARGUMENT",
       "bogus"},
      {"/v1/optimize",
       R"({"tracks": [{"id": "a", "genre": "pop"}],
        "options": {"steps": -3}})",
       {},
       400,
       "INVALID_ARGUMENT",
       "steps"},
      {"/v1/optimize",
       R"({"tracks": []})",
       {},
       400,
       "INVALID_ARGUMENT",
       "tracks"},
      {"/v1/predict",
       R"({"tracks": [{"id": "a", "genre": "jazz"}]})",
       {},
       400,
       "INVALID_ARGUMENT",
       "genre"},
      {"/v1/optimize",
       R"({"tracks": [{"id": "a", "genre": "pop"}]})",
       {{"grpc-timeout", "soon"}},
       400,
       "INVALID_ARGUMENT",
       "grpc-timeout"},
      {"/v1/optimize",
       R"({"tracks": [{"id": "a", "genre": "pop"}], "options": {"steps": 100000}})",
       {{"grpc-timeout", "100m"}},
       504,
       "DEADLINE_EXCEEDED",
       ""},
      {"/v1/optimize",
       std::string(200000, ' '),
       {},
       413,
       "RESOURCE_EXHAUSTED",
       "--http_max_body_bytes"},
      {"/v1/nothing", "{}", {}, 404, "NOT_FOUND", "/v1/nothing"},
      {"/v1/model", "{}", {}, 405, "UNIMPLEMENTED", "use GET"},
  };
  for (const Case& c : cases) {
    auto res = Post(c.path, c.body, c.headers);
    ASSERT_TRUE(res) << c.path << " " << c.body.substr(0, 80);
    EXPECT_EQ(res->status, c.status)
        << c.body.substr(0, 80) << " -> " << res->body;
    nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << res->body;
    EXPECT_EQ(body.value("status", ""), c.code) << res->body;
    EXPECT_TRUE(body.contains("code") && body["code"].is_number()) << res->body;
    EXPECT_NE(body.value("message", "").find(c.needle), std::string::npos)
        << res->body;
  }
  // More tracks than the queue holds: RESOURCE_EXHAUSTED is 429.
  auto full = Post("/v1/optimize", R"({"tracks": [{"id": "y", "genre": "pop"},
                                                   {"id": "z", "genre": "pop"}]})");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 429) << full->body;
  EXPECT_NE(full->body.find("--max_queue"), std::string::npos) << full->body;
  // The server is still up.
  EXPECT_EQ(http_->Get("/healthz")->status, 200);
}

// curl -d sends a JSON body as a form; httplib refuses forms over 8 KiB
// before any route runs. The answer says so instead of blaming the body
// limit, and the same body as JSON is answered.
TEST_F(HttpE2ETest, ALargeJsonBodySentAsAFormSaysToSendJson) {
  StartServer({});
  std::string body = R"({"tracks": [)";
  for (int i = 0; i < 300; ++i) {
    body +=
        absl::StrCat(i ? "," : "", R"({"id": "t)", i, R"(", "genre": "pop"})");
  }
  body += R"(], "options": {"steps": 2}})";
  ASSERT_GT(body.size(), 8192u);
  auto form =
      http_->Post("/v1/optimize", body, "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 413) << form->body;
  EXPECT_NE(form->body.find("Content-Type: application/json"),
            std::string::npos)
      << form->body;
  auto json = Post("/v1/optimize", body);
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 200) << json->body.substr(0, 200);
}

TEST_F(HttpE2ETest, HealthAndReadinessFollowTheDrain) {
  StartServer({"--drain_timeout_s", "60"});
  EXPECT_EQ(http_->Get("/healthz")->status, 200);
  auto ready = http_->Get("/readyz");
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, R"({"status":"SERVING"})");
  // A call in flight when SIGTERM comes still completes; meanwhile the
  // server is alive but not ready, over HTTP as over grpc.health.v1.
  int in_flight_status = 0;
  std::string in_flight_body;
  std::thread call([&] {
    auto res = NewClient()->Post("/v1/optimize",
                                 R"({"tracks": [{"id": "a", "genre": "pop"}],
                                    "options": {"steps": 20000}})",
                                 "application/json");
    if (res) {
      in_flight_status = res->status;
      in_flight_body = res->body;
    }
  });
  while (http_->Get("/metrics")
             ->body.find("nio_active_slots{class=\"interactive\"} 1") ==
         std::string::npos) {
    std::this_thread::yield();
  }
  server_->Signal(SIGTERM);
  int ready_status = 200;
  std::string ready_body;
  while (ready_status == 200) {
    auto during = http_->Get("/readyz");
    ASSERT_TRUE(during) << "the HTTP port stays up while draining";
    ready_status = during->status;
    ready_body = during->body;
  }
  EXPECT_EQ(ready_status, 503);
  EXPECT_EQ(ready_body, R"({"status":"NOT_SERVING"})");
  EXPECT_EQ(http_->Get("/healthz")->status, 200);
  // A new call is refused with a reason, not a transport error.
  auto late =
      Post("/v1/optimize", R"({"tracks": [{"id": "b", "genre": "pop"}]})");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 503);
  EXPECT_NE(late->body.find("shutting down"), std::string::npos) << late->body;
  call.join();
  EXPECT_EQ(in_flight_status, 200) << in_flight_body;
  EXPECT_EQ(server_->Wait(60s), 0) << server_->output();
}

TEST_F(HttpE2ETest, BusyApiCallsLeaveThreadsForHealthAndMetrics) {
  // 9 threads: one API call at a time, 8 kept for health and metrics. The
  // bundled model, so that one Adam track of 50000 steps runs for seconds.
  StartServer({"--http_threads", "9", "--drain_timeout_s", "0"}, "");
  std::thread holder([&] {
    NewClient()->Post("/v1/optimize", {{"grpc-timeout", "60S"}},
                      R"({"tracks": [{"id": "h", "genre": "pop"}],
                          "options": {"optimizer": "OPTIMIZER_ADAM",
                                      "starts": 1, "steps": 50000}})",
                      "application/json");
  });
  while (http_->Get("/metrics")
             ->body.find("nio_active_slots{class=\"interactive\"} 1") ==
         std::string::npos) {
    std::this_thread::yield();
  }
  auto refused =
      Post("/v1/optimize", R"({"tracks": [{"id": "x", "genre": "pop"}]})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429) << refused->body;
  EXPECT_NE(refused->body.find("--http_threads"), std::string::npos)
      << refused->body;
  EXPECT_EQ(http_->Get("/healthz")->status, 200);
  EXPECT_EQ(http_->Get("/readyz")->status, 200);
  // Stop at once: the holder's call is cut, not waited for.
  server_->Signal(SIGTERM);
  holder.join();
}

TEST_F(HttpE2ETest, ServesThePageAndItsAssets) {
  StartServer();
  auto page = http_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("app.js"), std::string::npos);
  for (const char* asset : {"/app.js", "/style.css"}) {
    auto res = http_->Get(asset);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << asset;
    EXPECT_GT(res->body.size(), 100u) << asset;
  }
}

TEST(HttpFlagsTest, BadOrBusyHttpAddressesAreRefused) {
  auto [code, out] = nio::testing::RunProgram(
      {NIO_SERVER_BINARY, "--listen", "127.0.0.1:0", "--http_listen", "nope"},
      30s);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("--http_listen"), std::string::npos) << out;
  // The HTTP port of a running server: the second one exits 3.
  ChildProcess first({NIO_SERVER_BINARY, "--listen", "127.0.0.1:0",
                      "--http_listen", "127.0.0.1:0", "--backend", "cpu"});
  ASSERT_TRUE(first.WaitForOutput("(HTTP)", 60s)) << first.output();
  std::smatch m;
  const std::string log = first.output();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("http://([0-9.]+:[0-9]+)")));
  auto [busy, busy_out] =
      nio::testing::RunProgram({NIO_SERVER_BINARY, "--listen", "127.0.0.1:0",
                                "--http_listen", m[1], "--backend", "cpu"},
                               60s);
  EXPECT_EQ(busy, 3) << busy_out;
  EXPECT_NE(busy_out.find("cannot listen for HTTP"), std::string::npos)
      << busy_out;
}

}  // namespace
}  // namespace nio
