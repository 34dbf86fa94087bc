// The real nio-server binary: starts, logs its start-up line, answers health
// checks and reflection, serves a request, drains on SIGTERM (an in-flight
// call still completes) and exits 0; bad flags and models exit non-zero.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <regex>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "nio/v1/nio.grpc.pb.h"
#include "proto/reflection_client.grpc.pb.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace nio {
namespace {

using nio::testing::ChildProcess;
using namespace std::chrono_literals;

std::string ServerBinary() { return NIO_SERVER_BINARY; }

// Starts nio-server on a free port with the tiny model; returns its address.
std::string StartAndGetAddress(ChildProcess& server) {
  EXPECT_TRUE(server.started());
  EXPECT_TRUE(server.WaitForOutput("listening on", 30s)) << server.output();
  std::smatch m;
  const std::string out = server.output();
  EXPECT_TRUE(
      std::regex_search(out, m, std::regex("listening on ([0-9.]+:[0-9]+)")))
      << out;
  return m[1];
}

TEST(ServerE2ETest, HealthReflectionServeAndDrainOnSigterm) {
  ChildProcess server({ServerBinary(), "--model_dir",
                       nio::testing::TestDataDir() + "/tiny_model", "--listen",
                       "127.0.0.1:0", "--http_listen", "127.0.0.1:0",
                       "--backend", "cpu", "--drain_timeout_s", "120"});
  const std::string address = StartAndGetAddress(server);
  // The start-up line names model, version, backend, threads and address.
  EXPECT_NE(server.output().find("model tiny-random version 1"),
            std::string::npos);
  EXPECT_NE(server.output().find("backend: cpu"), std::string::npos);
  EXPECT_NE(server.output().find("threads"), std::string::npos);
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());

  {  // Health.
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, {}, &resp).ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  {  // Reflection lists the service.
    auto reflection =
        grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
    grpc::ClientContext ctx;
    auto stream = reflection->ServerReflectionInfo(&ctx);
    grpc::reflection::v1alpha::ServerReflectionRequest req;
    req.set_list_services("");
    ASSERT_TRUE(stream->Write(req));
    grpc::reflection::v1alpha::ServerReflectionResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    std::vector<std::string> names;
    for (const auto& s : resp.list_services_response().service())
      names.push_back(s.name());
    EXPECT_NE(std::find(names.begin(), names.end(), "nio.v1.Nio"), names.end());
    req.set_file_containing_symbol("nio.v1.Nio");
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_GT(resp.file_descriptor_response().file_descriptor_proto_size(), 0);
    stream->WritesDone();
    stream->Finish();
  }
  auto stub = nio::v1::Nio::NewStub(channel);
  // A long call in flight when SIGTERM arrives still completes. A stream
  // with progress events shows that the track is running when the signal is
  // sent (a fixed sleep could send it before the call arrives or after it
  // ends): 100000 steps of the tiny model take about a second, the first event
  // comes at step 1000.
  grpc::ClientContext stream_ctx;
  auto stream = stub->OptimizeStream(&stream_ctx);
  nio::v1::OptimizeStreamRequest req;
  auto* t = req.add_tracks();
  t->set_id("inflight");
  t->set_genre("pop");
  req.mutable_options()->set_steps(100000);
  req.mutable_options()->set_progress_every(1000);
  ASSERT_TRUE(stream->Write(req));
  nio::v1::OptimizeStreamResponse event;
  ASSERT_TRUE(stream->Read(&event));
  ASSERT_TRUE(event.has_progress()) << event.DebugString();
  server.Signal(SIGTERM);
  stream->WritesDone();
  int progress_after_signal = 0;
  nio::v1::TrackResult result;
  while (stream->Read(&event)) {
    if (event.has_progress()) ++progress_after_signal;
    if (event.has_result()) result = event.result();
  }
  const grpc::Status inflight_status = stream->Finish();
  EXPECT_TRUE(inflight_status.ok())
      << inflight_status.error_code() << " " << inflight_status.error_message();
  EXPECT_EQ(server.Wait(150s), 0) << server.output();
  EXPECT_EQ(result.id(), "inflight");
  EXPECT_EQ(result.status().code(), 0) << result.status().message();
  EXPECT_EQ(result.steps_run(), 100000);
  EXPECT_GT(progress_after_signal, 0)
      << "the track should still have been running at the signal";
  EXPECT_NE(server.output().find("draining"), std::string::npos);
  // Once stopped, nothing listens.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 1s);
  nio::v1::ModelInfo info;
  EXPECT_FALSE(stub->GetModel(&ctx, {}, &info).ok());
}

TEST(ServerE2ETest, BadStartsExitNonZeroWithAMessage) {
  {
    ChildProcess server({ServerBinary(), "--model_dir", "/nonexistent/model",
                         "--listen", "127.0.0.1:0", "--http_listen",
                         "127.0.0.1:0"});
    EXPECT_EQ(server.Wait(30s), 2);
    EXPECT_NE(server.output().find("/nonexistent/model/model.json"),
              std::string::npos)
        << server.output();
  }
  {
    ChildProcess server({ServerBinary(), "--backend", "tpu"});
    EXPECT_EQ(server.Wait(30s), 1);
    EXPECT_NE(server.output().find("tpu"), std::string::npos);
  }
  {
    ChildProcess server({ServerBinary(), "--help"});
    server.Wait(30s);
    for (const char* flag : {"--model_dir", "--listen", "--backend",
                             "--max_batch", "--max_queue", "--threads"}) {
      EXPECT_NE(server.output().find(flag), std::string::npos) << flag;
    }
  }
}

}  // namespace
}  // namespace nio
