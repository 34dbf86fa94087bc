// The in-process server with tokens and limits, through the generated stub:
// every API call needs a known token, a batch token runs batch work only,
// the caller's name labels its calls and holds its limits, and each limit is
// refused naming its flag while the server goes on serving.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nio/v1/nio.grpc.pb.h"
#include "service/server.h"
#include "tests/test_util.h"

namespace nio::service {
namespace {

using nio::testing::TestDataDir;
using namespace std::chrono_literals;

constexpr char kAlice[] = "alice-0123456789abcdef";
constexpr char kBob[] = "bob-0123456789abcdef00";

std::unique_ptr<NioServer> StartServer(const RequestLimits& limits,
                                       bool with_tokens,
                                       int max_message_bytes = 64 << 20) {
  ServerOptions o;
  o.max_message_bytes = max_message_bytes;
  o.model_dir = TestDataDir() + "/tiny_model";
  o.listen = "127.0.0.1:0";
  o.scheduler.backend = kernels::BackendChoice::kCpu;
  o.scheduler.max_batch = 16;
  o.scheduler.compute.threads = 1;
  o.service.limits = limits;
  if (with_tokens) {
    const auto dir = nio::testing::FreshScratchDir("service_security");
    o.auth_tokens_file = (dir / "tokens").string();
    nio::testing::WriteFile(o.auth_tokens_file,
                            absl::StrCat("# test callers\nalice ", kAlice,
                                         "\nbob ", kBob, " batch\n"));
  }
  auto s = NioServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(s).value();
}

std::unique_ptr<nio::v1::Nio::Stub> Connect(const NioServer& server) {
  return nio::v1::Nio::NewStub(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
}

void Authorize(grpc::ClientContext* ctx, const std::string& token) {
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
}

nio::v1::OptimizeRequest Tracks(int n, int steps) {
  nio::v1::OptimizeRequest r;
  for (int i = 0; i < n; ++i) {
    auto* t = r.add_tracks();
    t->set_id(absl::StrCat("t", i));
    t->set_genre("pop");
    (*t->mutable_features())["energy"] = 0.1 + 0.05 * (i % 16);
  }
  r.mutable_options()->set_steps(steps);
  return r;
}

grpc::Status CallOptimize(nio::v1::Nio::Stub& stub, const std::string& token,
                          const nio::v1::OptimizeRequest& req,
                          nio::v1::OptimizeResponse* resp = nullptr) {
  grpc::ClientContext ctx;
  Authorize(&ctx, token);
  nio::v1::OptimizeResponse ignored;
  return stub.Optimize(&ctx, req, resp ? resp : &ignored);
}

// The value of the one sample of `family` with these labels in the page.
double MetricValue(const std::string& page, const std::string& sample) {
  const size_t at = page.find(sample + " ");
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + sample.size() + 1));
}

TEST(ServiceSecurityTest, EveryApiCallNeedsAKnownToken) {
  auto server = StartServer({}, true);
  auto stub = Connect(*server);
  for (const std::string token :
       {std::string(), std::string("not-a-token-0000000")}) {
    SCOPED_TRACE(token.empty() ? "no token" : "unknown token");
    const std::string why = token.empty() ? "needs a token" : "unknown token";
    {
      grpc::ClientContext ctx;
      Authorize(&ctx, token);
      nio::v1::ModelInfo info;
      grpc::Status s = stub->GetModel(&ctx, {}, &info);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_NE(s.error_message().find(why), std::string::npos)
          << s.error_message();
    }
    {
      grpc::ClientContext ctx;
      Authorize(&ctx, token);
      nio::v1::PredictRequest req;
      *req.add_tracks() = Tracks(1, 5).tracks(0);
      nio::v1::PredictResponse resp;
      EXPECT_EQ(stub->Predict(&ctx, req, &resp).error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
    }
    EXPECT_EQ(CallOptimize(*stub, token, Tracks(1, 5)).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    {
      grpc::ClientContext ctx;
      Authorize(&ctx, token);
      auto stream = stub->OptimizeStream(&ctx);
      nio::v1::OptimizeStreamRequest sreq;
      *sreq.mutable_tracks() = Tracks(1, 5).tracks();
      stream->Write(sreq);
      stream->WritesDone();
      nio::v1::OptimizeStreamResponse sresp;
      EXPECT_FALSE(stream->Read(&sresp));
      EXPECT_EQ(stream->Finish().error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
    }
  }
  // A header that is not a bearer token.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Basic ") + kAlice);
    nio::v1::ModelInfo info;
    EXPECT_EQ(stub->GetModel(&ctx, {}, &info).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  nio::v1::OptimizeResponse resp;
  ASSERT_TRUE(CallOptimize(*stub, kAlice, Tracks(2, 5), &resp).ok());
  EXPECT_EQ(resp.results_size(), 2);
  EXPECT_EQ(resp.results(0).status().code(), 0);
  // The caller's name labels its calls; refused calls count as anonymous.
  const std::string page = server->MetricsText();
  EXPECT_EQ(
      MetricValue(
          page,
          R"(nio_requests_total{method="Optimize",code="OK",caller="alice"})"),
      1)
      << page;
  EXPECT_EQ(
      MetricValue(
          page,
          R"(nio_requests_total{method="Optimize",code="UNAUTHENTICATED",caller="anonymous"})"),
      2)
      << page;
}

TEST(ServiceSecurityTest, ABatchTokenRunsBatchWorkOnly) {
  auto server = StartServer({}, true);
  auto stub = Connect(*server);
  auto req = Tracks(1, 5);
  req.mutable_options()->set_priority(nio::v1::PRIORITY_INTERACTIVE);
  grpc::Status s = CallOptimize(*stub, kBob, req);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("options.priority"), std::string::npos);
  EXPECT_NE(s.error_message().find("batch work only"), std::string::npos);
  EXPECT_TRUE(CallOptimize(*stub, kAlice, req).ok());
  // Unset, bob's one-track call runs as batch work; alice's as interactive.
  req.mutable_options()->clear_priority();
  ASSERT_TRUE(CallOptimize(*stub, kBob, req).ok());
  ASSERT_TRUE(CallOptimize(*stub, kAlice, req).ok());
  const SchedulerStats stats = server->scheduler().Stats();
  EXPECT_EQ(stats.Of(JobClass::kBatch).completed, 1);
  EXPECT_EQ(stats.Of(JobClass::kInteractive).completed, 2);
}

TEST(ServiceSecurityTest, EachLimitIsRefusedNamingItsFlag) {
  RequestLimits limits;
  limits.max_tracks_per_request = 5;
  limits.max_track_steps = 1000;
  limits.max_caller_track_steps = 3000;
  auto server = StartServer(limits, true);
  auto stub = Connect(*server);

  grpc::Status s = CallOptimize(*stub, kAlice, Tracks(6, 5));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("--max_tracks_per_request"),
            std::string::npos);
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, kAlice);
    nio::v1::PredictRequest preq;
    *preq.mutable_tracks() = Tracks(6, 5).tracks();
    nio::v1::PredictResponse presp;
    s = stub->Predict(&ctx, preq, &presp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("--max_tracks_per_request"),
              std::string::npos);
  }

  s = CallOptimize(*stub, kAlice, Tracks(1, 1001));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("--max_track_steps"), std::string::npos);

  // 4 x 1000 row-steps at once is more than the caller may hold.
  s = CallOptimize(*stub, kAlice, Tracks(4, 1000));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("--max_caller_track_steps"),
            std::string::npos)
      << s.error_message();
  // 3 x 1000 fits, and is given back once answered: twice in a row works.
  EXPECT_TRUE(CallOptimize(*stub, kAlice, Tracks(3, 1000)).ok());
  EXPECT_TRUE(CallOptimize(*stub, kAlice, Tracks(3, 1000)).ok());
  // Another caller has a ledger of its own.
  EXPECT_TRUE(CallOptimize(*stub, kBob, Tracks(3, 1000)).ok());

  // In a stream, the message over the caller's limit fails track by track
  // and the stream goes on.
  grpc::ClientContext ctx;
  Authorize(&ctx, kAlice);
  auto stream = stub->OptimizeStream(&ctx);
  nio::v1::OptimizeStreamRequest sreq;
  *sreq.mutable_tracks() = Tracks(4, 1000).tracks();
  sreq.mutable_options()->set_steps(1000);
  ASSERT_TRUE(stream->Write(sreq));
  auto ok_message = Tracks(5, 10);
  for (auto& t : *ok_message.mutable_tracks()) t.set_id("ok-" + t.id());
  *sreq.mutable_tracks() = ok_message.tracks();
  sreq.mutable_options()->set_steps(10);
  ASSERT_TRUE(stream->Write(sreq));
  // The refused ids may come again, in a message the budget holds.
  nio::v1::OptimizeStreamRequest again;
  for (int i = 0; i < 3; ++i) *again.add_tracks() = Tracks(4, 1000).tracks(i);
  again.mutable_options()->set_steps(1000);
  ASSERT_TRUE(stream->Write(again));
  stream->WritesDone();
  nio::v1::OptimizeStreamResponse sresp;
  int exhausted = 0, ok = 0;
  std::map<std::string, int> answers;
  while (stream->Read(&sresp)) {
    if (!sresp.has_result()) continue;
    ++answers[sresp.result().id()];
    if (sresp.result().status().code() ==
        grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      EXPECT_NE(
          sresp.result().status().message().find("--max_caller_track_steps"),
          std::string::npos);
    } else {
      EXPECT_EQ(sresp.result().status().code(), 0);
      ++ok;
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(exhausted, 4);
  EXPECT_EQ(ok, 5 + 3);
  EXPECT_EQ(answers["t0"], 2);  // refused, then run
  EXPECT_EQ(answers["t3"], 1);  // refused only
}

// A stream message over the caller's budget while the stream's own tracks
// hold it waits for their answers instead of failing.
TEST(ServiceSecurityTest, AStreamMessageWaitsForItsCallersBudget) {
  RequestLimits limits;
  limits.max_caller_track_steps = 60000;
  auto server = StartServer(limits, true);
  auto stub = Connect(*server);
  grpc::ClientContext ctx;
  Authorize(&ctx, kAlice);
  auto stream = stub->OptimizeStream(&ctx);
  const auto tracks = Tracks(5, 20000);
  nio::v1::OptimizeStreamRequest first, second;
  for (int i = 0; i < 3; ++i) *first.add_tracks() = tracks.tracks(i);
  for (int i = 3; i < 5; ++i) *second.add_tracks() = tracks.tracks(i);
  first.mutable_options()->set_steps(20000);   // 60000: the whole budget
  second.mutable_options()->set_steps(20000);  // must wait for the first
  ASSERT_TRUE(stream->Write(first));
  ASSERT_TRUE(stream->Write(second));
  stream->WritesDone();
  nio::v1::OptimizeStreamResponse sresp;
  std::map<std::string, int> ok;
  while (stream->Read(&sresp)) {
    if (!sresp.has_result()) continue;
    EXPECT_EQ(sresp.result().status().code(), 0)
        << sresp.result().status().message();
    ++ok[sresp.result().id()];
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(ok.size(), 5u);
  for (const auto& [id, n] : ok) EXPECT_EQ(n, 1) << id;
}

// What a caller holds is given back however its calls end: a deadline, a
// cancelled stream.
TEST(ServiceSecurityTest, TheBudgetComesBackWhenCallsAreCutShort) {
  auto server = StartServer({}, true);
  auto stub = Connect(*server);
  const std::string held = R"(nio_caller_row_steps_in_flight{caller="alice"})";
  auto wait_released = [&] {
    for (int i = 0; i < 5000; ++i) {
      if (MetricValue(server->MetricsText(), held) < 0) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  };
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, kAlice);
    ctx.set_deadline(std::chrono::system_clock::now() + 100ms);
    nio::v1::OptimizeResponse resp;
    auto req = Tracks(4, 100000);
    grpc::Status s = stub->Optimize(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_TRUE(wait_released()) << server->MetricsText();
  }
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, kAlice);
    auto stream = stub->OptimizeStream(&ctx);
    nio::v1::OptimizeStreamRequest sreq;
    *sreq.mutable_tracks() = Tracks(4, 100000).tracks();
    sreq.mutable_options()->set_steps(100000);
    sreq.mutable_options()->set_progress_every(10);
    ASSERT_TRUE(stream->Write(sreq));
    nio::v1::OptimizeStreamResponse first;
    ASSERT_TRUE(stream->Read(&first));  // running: a progress event
    EXPECT_GT(MetricValue(server->MetricsText(), held), 0);
    ctx.TryCancel();
    while (stream->Read(&first)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
    EXPECT_TRUE(wait_released()) << server->MetricsText();
  }
}

TEST(ServiceSecurityTest, StreamsPerCallerCountEveryConnectionOfTheName) {
  RequestLimits limits;
  limits.max_streams_per_caller = 1;
  auto server = StartServer(limits, true);
  auto first_stub = Connect(*server);
  grpc::ClientContext first_ctx;
  Authorize(&first_ctx, kAlice);
  auto first = first_stub->OptimizeStream(&first_ctx);
  // The first stream is open once it has answered a track.
  nio::v1::OptimizeStreamRequest sreq;
  *sreq.mutable_tracks() = Tracks(1, 5).tracks();
  ASSERT_TRUE(first->Write(sreq));
  nio::v1::OptimizeStreamResponse sresp;
  ASSERT_TRUE(first->Read(&sresp));
  EXPECT_EQ(MetricValue(server->MetricsText(),
                        R"(nio_caller_streams_open{caller="alice"})"),
            1);

  // Alice again, on another connection: refused. Bob: his own count.
  auto other_stub = Connect(*server);
  for (const char* token : {kAlice, kBob}) {
    grpc::ClientContext ctx;
    Authorize(&ctx, token);
    auto stream = other_stub->OptimizeStream(&ctx);
    *sreq.mutable_tracks() = Tracks(1, 5).tracks();
    stream->Write(sreq);
    stream->WritesDone();
    int results = 0;
    while (stream->Read(&sresp)) results += sresp.has_result();
    grpc::Status s = stream->Finish();
    if (token == kAlice) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_NE(s.error_message().find("--max_streams_per_caller"),
                std::string::npos);
      EXPECT_EQ(results, 0);
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(results, 1);
    }
  }
  first->WritesDone();
  while (first->Read(&sresp)) {
  }
  ASSERT_TRUE(first->Finish().ok());
  // Once the first stream is done, alice may open another.
  for (int i = 0; i < 2000; ++i) {
    if (MetricValue(server->MetricsText(),
                    R"(nio_caller_streams_open{caller="alice"})") < 0)
      break;
    std::this_thread::sleep_for(1ms);
  }
  grpc::ClientContext again_ctx;
  Authorize(&again_ctx, kAlice);
  auto again = other_stub->OptimizeStream(&again_ctx);
  ASSERT_TRUE(again->Write(sreq));
  again->WritesDone();
  int results = 0;
  while (again->Read(&sresp)) results += sresp.has_result();
  EXPECT_TRUE(again->Finish().ok());
  EXPECT_EQ(results, 1);
}

TEST(ServiceSecurityTest,
     AMessageOverTheSizeLimitIsRefusedAndTheStreamTakesIt) {
  auto server = StartServer({}, false, /*max_message_bytes=*/16 << 10);
  auto stub = Connect(*server);
  const auto big = Tracks(1000, 5);  // ~40 KB on the wire
  ASSERT_GT(big.ByteSizeLong(), 16u << 10);
  grpc::Status s = CallOptimize(*stub, "", big);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();
  // The same tracks in small stream messages all run.
  grpc::ClientContext ctx;
  auto stream = stub->OptimizeStream(&ctx);
  for (int first = 0; first < 1000; first += 100) {
    nio::v1::OptimizeStreamRequest sreq;
    for (int i = first; i < first + 100; ++i)
      *sreq.add_tracks() = big.tracks(i);
    sreq.mutable_options()->set_steps(5);
    ASSERT_TRUE(stream->Write(sreq));
  }
  stream->WritesDone();
  nio::v1::OptimizeStreamResponse sresp;
  int ok = 0;
  while (stream->Read(&sresp)) ok += sresp.result().status().code() == 0;
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(ok, 1000);
}

TEST(ServiceSecurityTest, ProgressBeyondItsRateIsDroppedNeverResults) {
  RequestLimits limits;
  limits.max_progress_events_per_s = 0;
  auto server = StartServer(limits, false);
  auto stub = Connect(*server);
  grpc::ClientContext ctx;
  auto stream = stub->OptimizeStream(&ctx);
  nio::v1::OptimizeStreamRequest sreq;
  *sreq.mutable_tracks() = Tracks(3, 40).tracks();
  sreq.mutable_options()->set_steps(40);
  sreq.mutable_options()->set_progress_every(1);
  ASSERT_TRUE(stream->Write(sreq));
  stream->WritesDone();
  nio::v1::OptimizeStreamResponse sresp;
  int progress = 0, results = 0;
  while (stream->Read(&sresp)) {
    progress += sresp.has_progress();
    results += sresp.has_result();
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(progress, 0);
  EXPECT_EQ(results, 3);
  EXPECT_GE(MetricValue(server->MetricsText(),
                        R"(nio_progress_events_dropped_total{reason="rate"})"),
            3 * 39);
}

}  // namespace
}  // namespace nio::service
