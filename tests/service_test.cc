// The gRPC service in-process on a loopback port, through the generated stub:
// results equal the engine's, concurrency, deadlines and cancellation, queue
// overflow and malformed requests.
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "models/feature_box.h"
#include "models/featurizer.h"
#include "models/model.h"
#include "models/track_json.h"
#include "nio/v1/nio.grpc.pb.h"
#include "service/optimizer.h"
#include "service/proto_convert.h"
#include "service/server.h"
#include "tests/faulty_backend.h"
#include "tests/test_util.h"

namespace nio::service {
namespace {

using nio::testing::ReadFile;
using nio::testing::TestDataDir;

std::vector<TrackRequest> TinyTracks() {
  return models::ParseTracksJson(ReadFile(TestDataDir() + "/tiny_tracks.json"),
                                 "tiny")
      .value();
}

std::unique_ptr<NioServer> StartServer(
    int max_batch = 64, int max_queue = 100000,
    const std::string& model_dir = TestDataDir() + "/tiny_model") {
  ServerOptions o;
  o.model_dir = model_dir;
  o.listen = "127.0.0.1:0";
  o.scheduler.backend = kernels::BackendChoice::kCpu;
  o.scheduler.max_batch = max_batch;
  o.scheduler.max_queue = max_queue;
  o.scheduler.compute.threads = 2;
  // Scheduling tests run deliberately long tracks (100000 steps x starts):
  // only the per-track limit is left low enough to be tested.
  o.service.limits.max_track_steps = 1000000;
  o.service.limits.max_caller_track_steps = int64_t{1} << 40;
  auto s = NioServer::Start(o);
  EXPECT_TRUE(s.ok()) << s.status();
  return std::move(s).value();
}

std::unique_ptr<nio::v1::Nio::Stub> Connect(const NioServer& server) {
  return nio::v1::Nio::NewStub(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
}

// What the in-process engine gives each track alone.
std::map<std::string, models::NioResult> EngineResults(
    const std::vector<TrackRequest>& requests) {
  auto model = models::LoadModel(TestDataDir() + "/tiny_model").value();
  SchedulerOptions o;
  o.backend = kernels::BackendChoice::kCpu;
  o.max_batch = 1;
  auto opt = Optimizer::Create(model, o).value();
  std::map<std::string, models::NioResult> out;
  for (const auto& r : requests) {
    auto outcome = opt->Optimize({r});
    EXPECT_TRUE(outcome[0].status.ok()) << outcome[0].status;
    out[r.track.id] = outcome[0].result;
  }
  return out;
}

void ExpectSameResult(const nio::v1::TrackResult& got,
                      const models::NioResult& want, double tol = 1e-4) {
  ASSERT_EQ(got.status().code(), 0)
      << got.id() << ": " << got.status().message();
  EXPECT_EQ(got.id(), want.id);
  EXPECT_NEAR(got.prediction_before(), want.prediction_before, tol) << got.id();
  EXPECT_NEAR(got.prediction_raw(), want.prediction_raw, tol) << got.id();
  EXPECT_NEAR(got.prediction_after(), want.prediction_after, tol) << got.id();
  EXPECT_EQ(got.steps_run(), want.steps_run);
  EXPECT_EQ(got.quality().improved(),
            got.prediction_after() > got.prediction_before())
      << got.id();
  ASSERT_EQ(got.changes_size(), static_cast<int>(want.changes.size()))
      << got.id();
  for (int c = 0; c < got.changes_size(); ++c) {
    EXPECT_EQ(got.changes(c).name(), want.changes[c].name);
    EXPECT_NEAR(got.changes(c).optimized(), want.changes[c].optimized,
                tol * std::max(1.0, std::fabs(want.changes[c].optimized)))
        << got.id() << " " << want.changes[c].name;
  }
}

nio::v1::OptimizeRequest RequestOf(const std::vector<TrackRequest>& tracks) {
  nio::v1::OptimizeRequest req;
  for (const auto& t : tracks) ToProto(t.track, req.add_tracks());
  if (!tracks.empty()) ToProto(tracks[0].options, req.mutable_options());
  return req;
}

// Tracks without per-track options (a unary request has one set of options).
std::vector<TrackRequest> DefaultOptionTracks(size_t n) {
  std::vector<TrackRequest> out;
  for (auto t : TinyTracks()) {
    t.options = {};
    out.push_back(t);
    if (out.size() == n) break;
  }
  return out;
}

TEST(ServiceTest, GetModelDescribesTheModel) {
  auto server = StartServer();
  auto stub = Connect(*server);
  grpc::ClientContext ctx;
  nio::v1::ModelInfo info;
  ASSERT_TRUE(stub->GetModel(&ctx, {}, &info).ok());
  EXPECT_EQ(info.name(), "tiny-random");
  EXPECT_EQ(info.genres_size(), 5);
  EXPECT_EQ(info.features_size(), 9);  // one-hot columns are named by genre
  EXPECT_EQ(info.default_options().steps(), 300);
  EXPECT_NE(info.backend().find("cpu"), std::string::npos);
  EXPECT_GT(info.presets_size(), 0);
}

TEST(ServiceTest, PredictOptimizeAndStreamEqualTheEngine) {
  auto server = StartServer(8);
  auto stub = Connect(*server);
  const auto tracks = DefaultOptionTracks(20);
  const auto want = EngineResults(tracks);

  {  // Predict
    nio::v1::PredictRequest req;
    for (const auto& t : tracks) ToProto(t.track, req.add_tracks());
    nio::v1::PredictResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Predict(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.predictions_size(), 20);
    for (const auto& p : resp.predictions()) {
      EXPECT_NEAR(p.prediction(), want.at(p.id()).prediction_before, 1e-4);
    }
  }
  {  // Optimize
    nio::v1::OptimizeResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Optimize(&ctx, RequestOf(tracks), &resp).ok());
    ASSERT_EQ(resp.results_size(), 20);
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(resp.results(i).id(), tracks[i].track.id);  // request order
      ExpectSameResult(resp.results(i), want.at(resp.results(i).id()));
    }
  }
  {  // OptimizeStream, several messages, with progress events
    grpc::ClientContext ctx;
    auto stream = stub->OptimizeStream(&ctx);
    for (int m = 0; m < 4; ++m) {
      nio::v1::OptimizeStreamRequest req;
      for (int i = m * 5; i < m * 5 + 5; ++i)
        ToProto(tracks[i].track, req.add_tracks());
      req.mutable_options()->set_progress_every(100);
      ASSERT_TRUE(stream->Write(req));
    }
    stream->WritesDone();
    nio::v1::OptimizeStreamResponse resp;
    std::map<std::string, int> results, progress;
    while (stream->Read(&resp)) {
      if (resp.has_result()) {
        results[resp.result().id()]++;
        ExpectSameResult(resp.result(), want.at(resp.result().id()));
      } else {
        progress[resp.progress().id()]++;
        EXPECT_EQ(resp.progress().step() % 100, 0);
      }
    }
    ASSERT_TRUE(stream->Finish().ok());
    EXPECT_EQ(results.size(), 20u);
    for (const auto& [id, n] : results) EXPECT_EQ(n, 1) << id;
    for (const auto& [id, n] : progress)
      EXPECT_EQ(n, 3) << id;  // steps 100, 200, 300
  }
}

TEST(ServiceTest, SixtyFourConcurrentClientsEachGetTheirOwnResults) {
  auto server = StartServer(32);
  const auto all = TinyTracks();
  // Each client: a slice of tracks, its own options (steps, lr, mode).
  struct Client {
    std::vector<TrackRequest> tracks;
    bool stream;
  };
  std::vector<Client> clients(64);
  std::vector<TrackRequest> expected_inputs;
  for (int c = 0; c < 64; ++c) {
    const int size = 1 + (c * 7) % 9;
    models::NioOptions opts;
    opts.steps = 20 + (c * 13) % 90;
    opts.lr = 0.02 + 0.01 * (c % 4);
    if (c % 3 == 0) opts.mode = models::NioMode::kProjected;
    for (int i = 0; i < size; ++i) {
      TrackRequest r = all[(c * 5 + i) % all.size()];
      r.track.id = "c" + std::to_string(c) + "-" + std::to_string(i);
      r.options = opts;
      clients[c].tracks.push_back(r);
      expected_inputs.push_back(r);
    }
    clients[c].stream = c % 2 == 1;
  }
  const auto want = EngineResults(expected_inputs);
  std::atomic<int> failures{0};
  std::mutex mu;
  std::map<std::string, int> answered;
  std::vector<std::thread> threads;
  for (int c = 0; c < 64; ++c) {
    threads.emplace_back([&, c] {
      auto stub = Connect(*server);
      std::vector<nio::v1::TrackResult> got;
      grpc::ClientContext ctx;
      if (!clients[c].stream) {
        nio::v1::OptimizeResponse resp;
        if (!stub->Optimize(&ctx, RequestOf(clients[c].tracks), &resp).ok())
          failures++;
        got.assign(resp.results().begin(), resp.results().end());
      } else {
        auto stream = stub->OptimizeStream(&ctx);
        for (const auto& t : clients[c].tracks) {
          nio::v1::OptimizeStreamRequest req;
          ToProto(t.track, req.add_tracks());
          ToProto(t.options, req.mutable_options());
          stream->Write(req);
        }
        stream->WritesDone();
        nio::v1::OptimizeStreamResponse resp;
        while (stream->Read(&resp)) got.push_back(resp.result());
        if (!stream->Finish().ok()) failures++;
      }
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& r : got) {
        answered[r.id()]++;
        ExpectSameResult(r, want.at(r.id()), 1e-3);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(answered.size(), expected_inputs.size());
  for (const auto& [id, n] : answered) EXPECT_EQ(n, 1) << id;
}

TEST(ServiceTest, ManyShortUnaryCallsFinishCleanly) {
  // Regression: a call's last track used to touch the reactor after
  // Finish(), racing gRPC's OnDone; thousands of short calls showed it as
  // heap corruption.
  auto server = StartServer(64);
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < 16; ++c) {
    threads.emplace_back([&] {
      auto stub = Connect(*server);
      auto req = RequestOf(DefaultOptionTracks(1));
      req.mutable_options()->set_steps(3);
      for (int i = 0; i < 150; ++i) {
        grpc::ClientContext ctx;
        nio::v1::OptimizeResponse resp;
        (stub->Optimize(&ctx, req, &resp).ok() &&
                 resp.results(0).steps_run() == 3
             ? ok
             : failed)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 16 * 150);
  EXPECT_EQ(failed.load(), 0);
}

TEST(ServiceTest, DeadlineAndCancelFreeTheirSlots) {
  auto server = StartServer(4);
  auto stub = Connect(*server);
  auto tracks = DefaultOptionTracks(6);
  auto request = RequestOf(tracks);
  request.mutable_options()->set_steps(100000);  // would run for a long time
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(300));
    nio::v1::OptimizeResponse resp;
    const grpc::Status s = stub->Optimize(&ctx, request, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // Retiring happens on the scheduler thread within a step of the event, and
  // a stream's message may be read just after its cancellation: wait (10 s at
  // most) for the counters rather than for a fixed time.
  auto wait_for = [&](auto done) {
    for (int i = 0; i < 1000 && !done(server->scheduler().Stats()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  wait_for([](const SchedulerStats& s) {
    return s.deadline_exceeded >= 6 && s.active == 0;
  });
  auto stats = server->scheduler().Stats();
  EXPECT_EQ(stats.deadline_exceeded, 6);
  EXPECT_EQ(stats.active, 0);
  {
    grpc::ClientContext ctx;
    nio::v1::OptimizeResponse resp;
    // Cancel as soon as the tracks run (100000 steps of the tiny model take
    // about a second, so a fixed delay could let them finish).
    std::thread canceller([&] {
      wait_for([](const SchedulerStats& s) { return s.active > 0; });
      ctx.TryCancel();
    });
    const grpc::Status s = stub->Optimize(&ctx, request, &resp);
    canceller.join();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED);
  }
  wait_for([](const SchedulerStats& s) {
    return s.cancelled >= 6 && s.active == 0;
  });
  stats = server->scheduler().Stats();
  EXPECT_EQ(stats.cancelled, 6);
  EXPECT_EQ(stats.active, 0);
  // A stream whose client cancels frees its slots too.
  {
    grpc::ClientContext ctx;
    auto stream = stub->OptimizeStream(&ctx);
    nio::v1::OptimizeStreamRequest req;
    *req.mutable_tracks() = request.tracks();
    *req.mutable_options() = request.options();
    stream->Write(req);
    wait_for([](const SchedulerStats& s) { return s.active > 0; });
    ctx.TryCancel();
    stream->Finish();
  }
  wait_for([](const SchedulerStats& s) {
    return s.cancelled >= 12 && s.active == 0 && s.queued == 0;
  });
  stats = server->scheduler().Stats();
  EXPECT_EQ(stats.cancelled, 12)
      << "deadline " << stats.deadline_exceeded << " active " << stats.active
      << " queued " << stats.queued << " submitted " << stats.submitted
      << " completed " << stats.completed;
  EXPECT_EQ(stats.active, 0);
  // And the server still answers.
  grpc::ClientContext ctx;
  nio::v1::OptimizeResponse resp;
  auto small = RequestOf(DefaultOptionTracks(1));
  small.mutable_options()->set_steps(10);
  EXPECT_TRUE(stub->Optimize(&ctx, small, &resp).ok());
}

TEST(ServiceTest, AOneTrackCallDoesNotWaitBehindACatalogStream) {
  auto server = StartServer(/*max_batch=*/16);
  auto stub = Connect(*server);
  // A stream of 600 long tracks: 16 slots, so it would take ~40 rounds.
  grpc::ClientContext sctx;
  auto stream = stub->OptimizeStream(&sctx);
  nio::v1::OptimizeStreamRequest sreq;
  const auto all = TinyTracks();
  for (int i = 0; i < 600; ++i) {
    auto* t = sreq.add_tracks();
    ToProto(all[i % all.size()].track, t);
    t->set_id("bulk-" + std::to_string(i));
  }
  sreq.mutable_options()->set_steps(
      100000);  // ~0.3 s a round: a wide margin for the one-track call
  ASSERT_TRUE(stream->Write(sreq));
  for (int i = 0; i < 500 && server->scheduler().Stats().queued == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(server->scheduler().Stats().queued, 0)
      << "the stream should fill the batch";
  // The one-track call is admitted at the next step boundary and finishes
  // while the stream's first round is still running.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto one = RequestOf(DefaultOptionTracks(1));
  one.mutable_options()->set_steps(50);
  nio::v1::OptimizeResponse resp;
  ASSERT_TRUE(stub->Optimize(&ctx, one, &resp).ok());
  EXPECT_EQ(resp.results(0).steps_run(), 50);
  EXPECT_LE(server->scheduler().Stats().completed, 1)
      << "no stream track may have finished yet";
  sctx.TryCancel();
  stream->Finish();
}

TEST(ServiceTest, CallsRunInTheBlockOfTheirPriorityClass) {
  auto server = StartServer();
  auto stub = Connect(*server);
  auto run = [&](size_t tracks, nio::v1::Priority priority) {
    auto req = RequestOf(DefaultOptionTracks(tracks));
    req.mutable_options()->set_steps(7);
    req.mutable_options()->set_priority(priority);
    grpc::ClientContext ctx;
    nio::v1::OptimizeResponse resp;
    EXPECT_TRUE(stub->Optimize(&ctx, req, &resp).ok());
  };
  auto track_steps = [&](JobClass c) {
    return server->scheduler().Stats().Of(c).track_steps;
  };
  // A small unary call is interactive, a large one (over
  // --interactive_max_tracks, 16) batch, and a caller may say which.
  run(2, nio::v1::PRIORITY_UNSPECIFIED);
  EXPECT_EQ(track_steps(JobClass::kInteractive), 2 * 7);
  EXPECT_EQ(track_steps(JobClass::kBatch), 0);
  run(20, nio::v1::PRIORITY_UNSPECIFIED);
  EXPECT_EQ(track_steps(JobClass::kBatch), 20 * 7);
  run(3, nio::v1::PRIORITY_BATCH);
  EXPECT_EQ(track_steps(JobClass::kBatch), 23 * 7);
  EXPECT_EQ(track_steps(JobClass::kInteractive), 2 * 7);
  // A stream is batch work unless a message claims interactive.
  grpc::ClientContext sctx;
  auto stream = stub->OptimizeStream(&sctx);
  nio::v1::OptimizeStreamRequest sreq;
  for (const auto& t : DefaultOptionTracks(4))
    ToProto(t.track, sreq.add_tracks());
  sreq.mutable_options()->set_steps(7);
  ASSERT_TRUE(stream->Write(sreq));
  sreq.clear_tracks();
  auto more = DefaultOptionTracks(5);
  ToProto(more[4].track, sreq.add_tracks());
  sreq.mutable_tracks(0)->set_id("claimed");
  sreq.mutable_options()->set_priority(nio::v1::PRIORITY_INTERACTIVE);
  ASSERT_TRUE(stream->Write(sreq));
  stream->WritesDone();
  nio::v1::OptimizeStreamResponse r;
  int results = 0;
  while (stream->Read(&r)) {
    EXPECT_EQ(r.result().status().code(), 0) << r.result().status().message();
    ++results;
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(results, 5);
  EXPECT_EQ(track_steps(JobClass::kBatch), 27 * 7);
  EXPECT_EQ(track_steps(JobClass::kInteractive), 3 * 7);
}

TEST(ServiceTest, QueueOverflowIsResourceExhaustedAndTheServerKeepsServing) {
  auto server = StartServer(/*max_batch=*/2, /*max_queue=*/5);
  auto stub = Connect(*server);
  auto big = RequestOf(DefaultOptionTracks(12));
  big.mutable_options()->set_steps(10);
  grpc::ClientContext ctx;
  nio::v1::OptimizeResponse resp;
  const grpc::Status s = stub->Optimize(&ctx, big, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << s.error_message();
  EXPECT_NE(s.error_message().find("max_queue"), std::string::npos);
  EXPECT_EQ(server->scheduler().Stats().rejected_queue_full, 12);
  grpc::ClientContext ctx2;
  auto small = RequestOf(DefaultOptionTracks(3));
  small.mutable_options()->set_steps(10);
  EXPECT_TRUE(stub->Optimize(&ctx2, small, &resp).ok());
  EXPECT_EQ(resp.results_size(), 3);
}

// A fault that stays (a lost GPU) in the real server, injected around its
// CPU backend: the call that meets it fails, health turns NOT_SERVING over
// grpc.health.v1 and /readyz (so an orchestrator restarts the pod), later
// calls are UNAVAILABLE naming the fault, and GetModel and health still
// answer.
TEST(ServiceTest, ABrokenBackendTurnsTheServerNotServingAndHealthStillAnswers) {
  auto switches = std::make_shared<nio::testing::FaultyBackend::Switches>();
  ServerOptions o;
  o.model_dir = TestDataDir() + "/tiny_model";
  o.listen = "127.0.0.1:0";
  o.http.listen = "127.0.0.1:0";
  o.scheduler.backend = kernels::BackendChoice::kCpu;
  o.scheduler.max_batch = 8;
  o.scheduler.compute.threads = 2;
  o.scheduler.wrap_backend = [switches](std::unique_ptr<kernels::Backend> b) {
    return std::unique_ptr<kernels::Backend>(
        new nio::testing::FaultyBackend(std::move(b), switches));
  };
  auto started = NioServer::Start(o);
  ASSERT_TRUE(started.ok()) << started.status();
  NioServer& server = **started;
  auto stub = Connect(server);
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      server.address(), grpc::InsecureChannelCredentials()));
  auto health_status = [&] {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    EXPECT_TRUE(health->Check(&ctx, {}, &resp).ok());
    return resp.status();
  };
  httplib::Client http("127.0.0.1", server.http_port());
  auto request = RequestOf(DefaultOptionTracks(3));
  request.mutable_options()->set_steps(5);

  grpc::ClientContext ok_ctx;
  nio::v1::OptimizeResponse resp;
  ASSERT_TRUE(stub->Optimize(&ok_ctx, request, &resp).ok());
  EXPECT_EQ(health_status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(http.Get("/readyz")->status, 200);

  // Each track of the call that meets the fault fails alone, INTERNAL
  // saying what failed.
  switches->broken = true;
  grpc::ClientContext failed_ctx;
  ASSERT_TRUE(stub->Optimize(&failed_ctx, request, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  for (const nio::v1::TrackResult& r : resp.results()) {
    EXPECT_EQ(r.status().code(), grpc::StatusCode::INTERNAL) << r.id();
    EXPECT_NE(r.status().message().find("device lost"), std::string::npos)
        << r.status().message();
  }
  // The scheduler tells the server before it answers anyone.
  EXPECT_FALSE(server.ready());
  EXPECT_EQ(health_status(),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(http.Get("/readyz")->status, 503);
  EXPECT_EQ(http.Get("/healthz")->status, 200);

  grpc::ClientContext later_ctx;
  const grpc::Status later = stub->Optimize(&later_ctx, request, &resp);
  EXPECT_EQ(later.error_code(), grpc::StatusCode::UNAVAILABLE)
      << later.error_message();
  EXPECT_NE(later.error_message().find("device lost"), std::string::npos)
      << later.error_message();
  grpc::ClientContext model_ctx;
  nio::v1::ModelInfo info;
  EXPECT_TRUE(stub->GetModel(&model_ctx, {}, &info).ok());
  EXPECT_NE(server.MetricsText().find("nio_backend_broken 1"),
            std::string::npos);
}

TEST(ServiceTest, MalformedRequestsAreInvalidArgumentNamingTheField) {
  auto server = StartServer();
  auto stub = Connect(*server);
  auto base = [] {
    nio::v1::OptimizeRequest r;
    auto* t = r.add_tracks();
    t->set_id("bad-1");
    t->set_genre("pop");
    (*t->mutable_features())["energy"] = 0.5;
    return r;
  };
  struct Case {
    std::string name;
    std::function<void(nio::v1::OptimizeRequest&)> edit;
    std::vector<std::string> fragments;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<Case> cases = {
      {"empty", [](auto& r) { r.clear_tracks(); }, {"tracks", "no tracks"}},
      {"nan",
       [&](auto& r) {
         (*r.mutable_tracks(0)->mutable_features())["tempo"] = nan;
       },
       {"bad-1", "'tempo'", "finite"}},
      {"inf",
       [&](auto& r) {
         (*r.mutable_tracks(0)->mutable_features())["loudness"] = inf;
       },
       {"'loudness'", "finite"}},
      {"unknown feature",
       [](auto& r) { (*r.mutable_tracks(0)->mutable_features())["speed"] = 1; },
       {"bad-1", "'speed'", "unknown feature"}},
      {"unknown genre",
       [](auto& r) { r.mutable_tracks(0)->set_genre("polka"); },
       {"bad-1", "track_genre", "polka"}},
      {"no genre",
       [](auto& r) { r.mutable_tracks(0)->clear_genre(); },
       {"track_genre", "missing"}},
      {"steps 0",
       [](auto& r) { r.mutable_options()->set_steps(0); },
       {"options.steps"}},
      {"steps negative",
       [](auto& r) { r.mutable_options()->set_steps(-5); },
       {"options.steps"}},
      {"steps huge",
       [](auto& r) { r.mutable_options()->set_steps(2000000000); },
       {"options.steps"}},
      {"lr 0", [](auto& r) { r.mutable_options()->set_lr(0); }, {"options.lr"}},
      {"lr negative",
       [](auto& r) { r.mutable_options()->set_lr(-0.1); },
       {"options.lr"}},
      {"lr nan",
       [&](auto& r) { r.mutable_options()->set_lr(nan); },
       {"options.lr"}},
      {"lambda negative",
       [](auto& r) { r.mutable_options()->set_lambda(-1); },
       {"options.lambda"}},
      {"duplicate ids",
       [](auto& r) { *r.add_tracks() = r.tracks(0); },
       {"tracks[1].id", "duplicate"}},
      {"missing id",
       [](auto& r) { r.mutable_tracks(0)->clear_id(); },
       {"tracks[0].id", "missing"}},
      {"bounds min > max",
       [](auto& r) {
         auto& b = (*r.mutable_options()->mutable_bounds())["tempo"];
         b.set_min(150);
         b.set_max(90);
       },
       {"options.bounds[tempo]", "min"}},
      {"bounds unknown feature",
       [](auto& r) {
         (*r.mutable_options()->mutable_bounds())["speed"].set_min(1);
       },
       {"options.bounds[speed]"}},
      {"unknown mutable feature",
       [](auto& r) { r.mutable_options()->add_mutable_features("speed"); },
       {"options.mutable_features", "speed"}},
      {"one-hot mutable",
       [](auto& r) {
         r.mutable_options()->add_mutable_features("track_genre_pop");
       },
       {"one-hot"}},
      {"unknown priority",
       [](auto& r) {
         r.mutable_options()->set_priority(static_cast<nio::v1::Priority>(7));
       },
       {"options.priority", "unknown value 7"}},
      {"interactive claim too big",
       [](auto& r) {
         for (int i = 0; i < 20; ++i) {
           auto* t = r.add_tracks();
           *t = r.tracks(0);
           t->set_id("more-" + std::to_string(i));
         }
         r.mutable_options()->set_priority(nio::v1::PRIORITY_INTERACTIVE);
       },
       {"options.priority", "at most 16", "--interactive_max_tracks",
        "got 21"}},
      {"unknown mode",
       [](auto& r) {
         r.mutable_options()->set_mode(static_cast<nio::v1::Mode>(7));
       },
       {"options.mode", "unknown value 7"}},
      {"unknown optimizer",
       [](auto& r) {
         r.mutable_options()->set_optimizer(static_cast<nio::v1::Optimizer>(9));
       },
       {"options.optimizer", "unknown value 9"}},
      {"unknown direction",
       [](auto& r) {
         (*r.mutable_options()->mutable_bounds())["energy"].set_direction(
             static_cast<nio::v1::Direction>(5));
       },
       {"options.bounds[energy]", "direction", "unknown value 5"}},
      {"unknown mode on a track",
       [](auto& r) {
         r.mutable_tracks(0)->mutable_options()->set_mode(
             static_cast<nio::v1::Mode>(3));
       },
       {"track 'bad-1': options.mode", "unknown value 3"}},
      {"feature beyond float",
       [](auto& r) {
         (*r.mutable_tracks(0)->mutable_features())["duration_ms"] = 1e308;
       },
       {"bad-1", "'duration_ms'", "beyond a float's range"}},
      {"target beyond float",
       [](auto& r) {
         r.mutable_options()->set_mode(nio::v1::MODE_PROJECTED);
         r.mutable_options()->set_target(1e39);
       },
       {"options.target", "finite number within"}},
      {"target nan",
       [&](auto& r) {
         r.mutable_options()->set_mode(nio::v1::MODE_PROJECTED);
         r.mutable_options()->set_target(nan);
       },
       {"options.target", "finite"}},
      {"starts 0",
       [](auto& r) { r.mutable_options()->set_starts(0); },
       {"options.starts"}},
      {"starts 65",
       [](auto& r) { r.mutable_options()->set_starts(65); },
       {"options.starts", "65"}},
      {"tolerance 1",
       [](auto& r) { r.mutable_options()->set_tolerance(1); },
       {"options.tolerance"}},
      {"window without tolerance",
       [](auto& r) { r.mutable_options()->set_tolerance_window(5); },
       {"options.tolerance_window"}},
      {"time budget 0",
       [](auto& r) { r.mutable_options()->set_time_budget_ms(0); },
       {"options.time_budget_ms"}},
      {"max changed 0",
       [](auto& r) { r.mutable_options()->set_max_changed_features(0); },
       {"options.max_changed_features"}},
      {"bounds max nan",
       [&](auto& r) {
         (*r.mutable_options()->mutable_bounds())["energy"].set_max(nan);
       },
       {"options.bounds[energy].max", "finite"}},
      {"bounds max_delta negative",
       [](auto& r) {
         (*r.mutable_options()->mutable_bounds())["energy"].set_max_delta(-1);
       },
       {"options.bounds[energy].max_delta"}},
      {"progress_every negative",
       [](auto& r) { r.mutable_options()->set_progress_every(-1); },
       {"options.progress_every"}},
      {"steps x starts over the limit",
       [](auto& r) {
         r.mutable_options()->set_steps(100000);
         r.mutable_options()->set_starts(11);
       },
       {"bad-1", "100000 x 11 = 1100000", "--max_track_steps"}},
      {"too many tracks",
       [](auto& r) {
         for (int i = 0; i < 4096; ++i) {
           auto* t = r.add_tracks();
           *t = r.tracks(0);
           t->set_id("copy-" + std::to_string(i));
         }
       },
       {"tracks", "4097", "--max_tracks_per_request", "OptimizeStream"}},
  };
  ASSERT_GE(cases.size(), 30u);
  for (const auto& c : cases) {
    auto req = base();
    c.edit(req);
    grpc::ClientContext ctx;
    nio::v1::OptimizeResponse resp;
    const grpc::Status s = stub->Optimize(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.name << ": " << s.error_message();
    for (const auto& f : c.fragments) {
      EXPECT_NE(s.error_message().find(f), std::string::npos)
          << c.name << ": '" << f << "' not in '" << s.error_message() << "'";
    }
    // The server is still up and answers the next call.
    grpc::ClientContext info_ctx;
    nio::v1::ModelInfo info;
    ASSERT_TRUE(stub->GetModel(&info_ctx, {}, &info).ok()) << c.name;
  }
  // One bad track among good ones fails alone.
  auto mixed = base();
  auto* good = mixed.add_tracks();
  good->set_id("good");
  good->set_genre("edm");
  (*mixed.mutable_tracks(0)->mutable_features())["speed"] = 1;
  mixed.mutable_options()->set_steps(10);
  grpc::ClientContext ctx;
  nio::v1::OptimizeResponse resp;
  ASSERT_TRUE(stub->Optimize(&ctx, mixed, &resp).ok());
  EXPECT_EQ(resp.results(0).status().code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(resp.results(0).status().message().find("speed"),
            std::string::npos);
  EXPECT_EQ(resp.results(1).status().code(), 0);
  EXPECT_EQ(resp.results(1).steps_run(), 10);
  // The stream answers a bad track with its own error and goes on.
  grpc::ClientContext sctx;
  auto stream = stub->OptimizeStream(&sctx);
  nio::v1::OptimizeStreamRequest sreq;
  *sreq.mutable_tracks() = mixed.tracks();
  *sreq.mutable_options() = mixed.options();
  stream->Write(sreq);
  stream->WritesDone();
  nio::v1::OptimizeStreamResponse sresp;
  std::map<std::string, int> codes;
  while (stream->Read(&sresp))
    codes[sresp.result().id()] = sresp.result().status().code();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(codes["bad-1"],
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(codes["good"], 0);
}

// A stream message that is bad as a whole (an id the stream already used,
// an id twice in it) fails each of its tracks once; a track of an earlier
// message keeps its one answer.
TEST(ServiceTest, ARepeatedIdInAStreamFailsAloneAndEachIdIsAnsweredOnce) {
  auto server = StartServer();
  auto stub = Connect(*server);
  auto track = [](nio::v1::OptimizeStreamRequest& m, const std::string& id) {
    nio::v1::Track* t = m.add_tracks();
    t->set_id(id);
    t->set_genre("pop");
    m.mutable_options()->set_steps(5);
  };
  nio::v1::OptimizeStreamRequest first, second;
  track(first, "a");
  track(second, "a");  // already in the stream
  track(second, "b");
  track(second, "b");  // twice in the message
  track(second, "c");  // fine: runs, whatever its neighbours
  grpc::ClientContext ctx;
  auto stream = stub->OptimizeStream(&ctx);
  ASSERT_TRUE(stream->Write(first));
  ASSERT_TRUE(stream->Write(second));
  stream->WritesDone();
  std::map<std::string, std::vector<int>> answers;
  nio::v1::OptimizeStreamResponse r;
  while (stream->Read(&r)) {
    if (r.has_result())
      answers[r.result().id()].push_back(r.result().status().code());
  }
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_EQ(answers["a"].size(), 1u);
  EXPECT_EQ(answers["a"][0], 0);
  ASSERT_EQ(answers["b"].size(), 1u);
  EXPECT_EQ(answers["b"][0],
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  ASSERT_EQ(answers["c"].size(), 1u);
  EXPECT_EQ(answers["c"][0], 0);
  EXPECT_EQ(answers.size(), 3u);
}

// A client that streams but never reads: the server stops reading once its
// window of answers waits unwritten (beyond what the transport buffers), so
// what it holds for the stream stays bounded; once the client reads, every
// track is answered exactly once.
TEST(ServiceTest, AStreamWhoseClientNeverReadsHoldsAtMostItsWindow) {
  using namespace std::chrono_literals;
  ServerOptions o;
  o.model_dir = TestDataDir() + "/tiny_model";
  o.listen = "127.0.0.1:0";
  o.scheduler.backend = kernels::BackendChoice::kCpu;
  o.scheduler.compute.threads = 2;
  o.service.stream_window = 8;
  auto server = NioServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  // A client whose receive window stays small (no BDP probing): gRPC's
  // transport then holds only a few hundred unread answers.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto stub = nio::v1::Nio::NewStub(grpc::CreateCustomChannel(
      (*server)->address(), grpc::InsecureChannelCredentials(), args));
  constexpr int kTracks = 3000;
  grpc::ClientContext ctx;
  auto stream = stub->OptimizeStream(&ctx);
  std::thread writer([&] {
    for (int i = 0; i < kTracks; ++i) {
      nio::v1::OptimizeStreamRequest m;
      nio::v1::Track* t = m.add_tracks();
      t->set_id("t" + std::to_string(i));
      t->set_genre("pop");
      m.mutable_options()->set_steps(1);
      if (!stream->Write(m)) return;
    }
    stream->WritesDone();
  });
  // The server stalls: every track it took is answered, and it takes no
  // more while nobody reads.
  Scheduler& scheduler = (*server)->scheduler();
  auto settled = [&] {
    const SchedulerStats s = scheduler.Stats();
    return s.submitted > 0 && s.completed == s.submitted && s.queued == 0 &&
           s.active == 0;
  };
  int64_t taken = -1;
  for (auto until = std::chrono::steady_clock::now() + 60s;
       std::chrono::steady_clock::now() < until;) {
    if (settled()) {
      const int64_t now = scheduler.Stats().submitted;
      // Stable over a few scan intervals: nothing more is being read.
      std::this_thread::sleep_for(300ms);
      if (settled() && scheduler.Stats().submitted == now) {
        taken = now;
        break;
      }
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  ASSERT_GE(taken, 8) << "the server never settled";
  EXPECT_LT(taken, kTracks / 3)
      << "the server kept reading a stream whose client never reads";
  std::set<std::string> answered;
  int answers = 0;
  nio::v1::OptimizeStreamResponse r;
  while (stream->Read(&r)) {
    if (!r.has_result()) continue;
    ++answers;
    EXPECT_EQ(r.result().status().code(), 0) << r.result().status().message();
    answered.insert(r.result().id());
  }
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answers, kTracks);
  EXPECT_EQ(answered.size(), static_cast<size_t>(kTracks));
}

// The options of better suggestions over the wire: per request, per track
// over the request's, and the quality block back; a bad per-track option
// fails its track alone, naming the field.
TEST(ServiceTest, PerTrackOptionsRunAndEveryResultCarriesItsQuality) {
  auto server = StartServer();
  auto stub = Connect(*server);
  nio::v1::OptimizeRequest req;
  req.mutable_options()->set_steps(40);
  req.mutable_options()->set_mode(nio::v1::MODE_PROJECTED);
  req.mutable_options()->set_starts(3);
  auto add = [&](const std::string& id) {
    nio::v1::Track* t = req.add_tracks();
    t->set_id(id);
    t->set_genre("pop");
    (*t->mutable_features())["energy"] = 0.5;
    (*t->mutable_features())["tempo"] = 110;
    return t;
  };
  add("plain");
  nio::v1::Track* target = add("target");
  target->mutable_options()->set_target(-1e6);  // reached at once
  nio::v1::Track* one = add("one-feature");
  one->mutable_options()->set_max_changed_features(1);
  (*one->mutable_options()->mutable_bounds())["energy"].set_direction(
      nio::v1::DIRECTION_DECREASE);
  nio::v1::Track* bad = add("bad-starts");
  bad->mutable_options()->set_starts(0);
  nio::v1::Track* budget = add("budget");
  budget->mutable_options()->set_steps(100000);
  budget->mutable_options()->set_time_budget_ms(20);
  nio::v1::Track* converge = add("converge");
  converge->mutable_options()->set_steps(100000);
  converge->mutable_options()->set_tolerance(0.5);
  converge->mutable_options()->set_tolerance_window(3);
  nio::v1::Track* bad_enum = add("bad-direction");
  (*bad_enum->mutable_options()->mutable_bounds())["energy"].set_direction(
      static_cast<nio::v1::Direction>(7));
  grpc::ClientContext ctx;
  nio::v1::OptimizeResponse resp;
  ASSERT_TRUE(stub->Optimize(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 7);
  const auto& plain = resp.results(0);
  ASSERT_EQ(plain.status().code(), 0) << plain.status().message();
  EXPECT_EQ(plain.quality().stop_reason(), nio::v1::STOP_REASON_STEPS);
  EXPECT_EQ(plain.steps_run(), 40);
  EXPECT_GE(plain.quality().winning_start(), 0);
  EXPECT_LT(plain.quality().winning_start(), 3);
  EXPECT_GT(plain.quality().features_changed(), 1);
  EXPECT_GT(plain.quality().distance_l2(), 0);
  EXPECT_FALSE(plain.quality().has_target_reached());
  const auto& reached = resp.results(1);
  ASSERT_EQ(reached.status().code(), 0) << reached.status().message();
  EXPECT_EQ(reached.quality().stop_reason(), nio::v1::STOP_REASON_TARGET);
  EXPECT_EQ(reached.steps_run(), 1);
  EXPECT_TRUE(reached.quality().target_reached());
  // The track as given reached it: start 0, nothing changed.
  EXPECT_EQ(reached.quality().winning_start(), 0);
  EXPECT_EQ(reached.quality().features_changed(), 0);
  const auto& limited = resp.results(2);
  ASSERT_EQ(limited.status().code(), 0) << limited.status().message();
  EXPECT_LE(limited.quality().features_changed(), 1);
  for (const auto& c : limited.changes()) {
    if (c.name() == "energy") EXPECT_LE(c.optimized(), c.original());
  }
  EXPECT_EQ(resp.results(3).status().code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(resp.results(3).status().message().find("options.starts"),
            std::string::npos)
      << resp.results(3).status().message();
  EXPECT_EQ(resp.results(6).status().code(),
            static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(resp.results(6).status().message().find("direction"),
            std::string::npos)
      << resp.results(6).status().message();
  const auto& timed = resp.results(4);
  ASSERT_EQ(timed.status().code(), 0) << timed.status().message();
  EXPECT_EQ(timed.quality().stop_reason(), nio::v1::STOP_REASON_TIME_BUDGET);
  EXPECT_LT(timed.steps_run(), 100000);
  const auto& converged = resp.results(5);
  ASSERT_EQ(converged.status().code(), 0) << converged.status().message();
  EXPECT_EQ(converged.quality().stop_reason(), nio::v1::STOP_REASON_CONVERGED);
  EXPECT_LT(converged.steps_run(), 100000);
}

TEST(ServiceTest, CudaServerAnswersAsTheCpuServer) {
  std::string reason;
  if (kernels::CudaDeviceCount(&reason) == 0)
    GTEST_SKIP() << "no CUDA device: " << reason;
  ServerOptions o;
  o.model_dir = TestDataDir() + "/tiny_model";
  o.listen = "127.0.0.1:0";
  o.scheduler.backend = kernels::BackendChoice::kCuda;
  auto server = NioServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = Connect(**server);
  const auto tracks = DefaultOptionTracks(20);
  const auto want = EngineResults(tracks);
  nio::v1::OptimizeResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Optimize(&ctx, RequestOf(tracks), &resp).ok());
  ASSERT_EQ(resp.results_size(), 20);
  for (const auto& r : resp.results())
    ExpectSameResult(r, want.at(r.id()), 1e-3);
}

// ------------------------------------------- validity and effective boxes

// The invalid inputs of issue 19, each answered INVALID_ARGUMENT naming the
// track, the field, the value and the range, on every RPC (bundled model).
struct InvalidCase {
  const char* id;
  std::map<std::string, double> features;
  const char* mutable_feature;  // or nullptr
  std::vector<std::string> fragments;
};

const std::vector<InvalidCase>& InvalidCases() {
  static const auto* cases = new std::vector<InvalidCase>{
      {"unit4",
       {{"danceability", 4}},
       nullptr,
       {"track 'unit4'", "'danceability'", "4", "[0, 1]"}},
      {"slow",
       {{"tempo", -100}},
       nullptr,
       {"track 'slow'", "'tempo'", "-100", "(0, 300]"}},
      {"key12",
       {{"key", 12}},
       nullptr,
       {"track 'key12'", "'key'", "12", "[-1, 11]"}},
      {"moves-mode",
       {},
       "mode",
       {"track 'moves-mode'", "mutable_features", "'mode'", "0 or 1",
        "cannot move"}},
  };
  return *cases;
}

nio::v1::Track TrackOf(const InvalidCase& c) {
  nio::v1::Track t;
  t.set_id(c.id);
  t.set_genre("pop");
  for (const auto& [k, v] : c.features) (*t.mutable_features())[k] = v;
  return t;
}

void ExpectNamesAll(const std::string& message, const InvalidCase& c) {
  for (const auto& frag : c.fragments) {
    EXPECT_NE(message.find(frag), std::string::npos)
        << c.id << ": '" << frag << "' not in " << message;
  }
}

TEST(ServiceValidationTest, InvalidValuesAndMovesAreInvalidArgumentOnEveryRpc) {
  auto server = StartServer(8, 100000, models::DefaultModelDir());
  auto stub = Connect(*server);
  for (const InvalidCase& c : InvalidCases()) {
    SCOPED_TRACE(c.id);
    nio::v1::OptimizeRequest req;
    *req.add_tracks() = TrackOf(c);
    req.mutable_options()->set_steps(5);
    if (c.mutable_feature)
      req.mutable_options()->add_mutable_features(c.mutable_feature);
    {  // Optimize: the only track is invalid -> the call fails.
      grpc::ClientContext ctx;
      nio::v1::OptimizeResponse resp;
      const grpc::Status st = stub->Optimize(&ctx, req, &resp);
      EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
      ExpectNamesAll(st.error_message(), c);
    }
    {  // OptimizeStream: the track's result carries the status.
      grpc::ClientContext ctx;
      auto stream = stub->OptimizeStream(&ctx);
      nio::v1::OptimizeStreamRequest sreq;
      *sreq.mutable_tracks() = req.tracks();
      *sreq.mutable_options() = req.options();
      ASSERT_TRUE(stream->Write(sreq));
      stream->WritesDone();
      nio::v1::OptimizeStreamResponse resp;
      int results = 0;
      while (stream->Read(&resp)) {
        if (!resp.has_result()) continue;
        ++results;
        EXPECT_EQ(resp.result().status().code(),
                  grpc::StatusCode::INVALID_ARGUMENT);
        ExpectNamesAll(resp.result().status().message(), c);
      }
      stream->Finish();
      EXPECT_EQ(results, 1);
    }
    if (c.mutable_feature) continue;  // Predict has no options
    {                                 // Predict
      grpc::ClientContext ctx;
      nio::v1::PredictRequest preq;
      *preq.add_tracks() = TrackOf(c);
      nio::v1::PredictResponse presp;
      const grpc::Status st = stub->Predict(&ctx, preq, &presp);
      const std::string message = st.ok() && presp.predictions_size() == 1
                                      ? presp.predictions(0).status().message()
                                      : st.error_message();
      const int code = st.ok() && presp.predictions_size() == 1
                           ? presp.predictions(0).status().code()
                           : st.error_code();
      EXPECT_EQ(code, grpc::StatusCode::INVALID_ARGUMENT);
      ExpectNamesAll(message, c);
    }
  }
}

// GetModel's effective boxes are the boxes a projected problem enforces
// (both come from models::EffectiveBox).
TEST(ServiceValidationTest, GetModelBoxesAreWhatTheOptimizerEnforces) {
  auto server = StartServer(8, 100000, models::DefaultModelDir());
  auto stub = Connect(*server);
  grpc::ClientContext ctx;
  nio::v1::ModelInfo info;
  ASSERT_TRUE(stub->GetModel(&ctx, {}, &info).ok());
  EXPECT_EQ(info.default_options().mode(), nio::v1::MODE_PROJECTED);
  auto model = models::LoadModel(models::DefaultModelDir()).value();
  models::Featurizer f(model.spec);
  const std::vector<int>& movable = f.MovableColumns();
  int numeric = 0;
  for (const auto& fi : info.features()) {
    if (fi.kind() != "numeric") continue;
    ++numeric;
    models::NioOptions o;
    o.mode = models::NioMode::kProjected;
    o.mutable_features = {fi.name()};
    auto p = models::BuildNioProblem(f, {"box", {}, "pop"}, o);
    ASSERT_TRUE(p.ok()) << p.status();
    const int idx = f.FeatureIndex(fi.name());
    const size_t c =
        std::find(movable.begin(), movable.end(), idx) - movable.begin();
    EXPECT_EQ(fi.box_min(), p->raw_lo[c]) << fi.name();
    EXPECT_EQ(fi.box_max(), p->raw_hi[c]) << fi.name();
    EXPECT_LE(fi.range_min(), fi.box_min()) << fi.name();
    EXPECT_GE(fi.range_max(), fi.box_max()) << fi.name();
  }
  EXPECT_EQ(numeric, 10);
  // Valid ranges travel too.
  for (const auto& fi : info.features()) {
    if (fi.name() != "tempo") continue;
    EXPECT_EQ(fi.valid_min(), 0);
    EXPECT_TRUE(fi.valid_min_exclusive());
    EXPECT_EQ(fi.valid_max(), 300);
  }
}

}  // namespace
}  // namespace nio::service
