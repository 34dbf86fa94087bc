// The real nio-server binary: starts, logs its start-up line, answers health
// checks and reflection, serves a request, drains on SIGTERM (an in-flight
// call still completes) and exits 0; bad flags and models exit non-zero.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <regex>
#include <thread>

#include "gtest/gtest.h"
#include "nio/v1/nio.grpc.pb.h"
#include "proto/health_client.grpc.pb.h"
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
  EXPECT_TRUE(std::regex_search(out, m, std::regex("listening on ([0-9.]+:[0-9]+)"))) << out;
  return m[1];
}

TEST(ServerE2ETest, HealthReflectionServeAndDrainOnSigterm) {
  ChildProcess server({ServerBinary(), "--model_dir", nio::testing::TestDataDir() + "/tiny_model",
                       "--listen", "127.0.0.1:0", "--backend", "cpu", "--drain_timeout_s", "120"});
  const std::string address = StartAndGetAddress(server);
  // The start-up line names model, version, backend, threads and address.
  EXPECT_NE(server.output().find("model tiny-random version 1"), std::string::npos);
  EXPECT_NE(server.output().find("backend: cpu"), std::string::npos);
  EXPECT_NE(server.output().find("threads"), std::string::npos);
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());

  {  // Health.
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, {}, &resp).ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  {  // Reflection lists the service.
    auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
    grpc::ClientContext ctx;
    auto stream = reflection->ServerReflectionInfo(&ctx);
    grpc::reflection::v1alpha::ServerReflectionRequest req;
    req.set_list_services("");
    ASSERT_TRUE(stream->Write(req));
    grpc::reflection::v1alpha::ServerReflectionResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    std::vector<std::string> names;
    for (const auto& s : resp.list_services_response().service()) names.push_back(s.name());
    EXPECT_NE(std::find(names.begin(), names.end(), "nio.v1.Nio"), names.end());
    req.set_file_containing_symbol("nio.v1.Nio");
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_GT(resp.file_descriptor_response().file_descriptor_proto_size(), 0);
    stream->WritesDone();
    stream->Finish();
  }
  auto stub = nio::v1::Nio::NewStub(channel);
  // A long call in flight when SIGTERM arrives still completes.
  nio::v1::OptimizeRequest req;
  auto* t = req.add_tracks();
  t->set_id("inflight");
  t->set_genre("pop");
  req.mutable_options()->set_steps(20000);
  grpc::Status inflight_status;
  nio::v1::OptimizeResponse inflight;
  std::thread call([&] {
    grpc::ClientContext ctx;
    inflight_status = stub->Optimize(&ctx, req, &inflight);
  });
  std::this_thread::sleep_for(300ms);
  server.Signal(SIGTERM);
  EXPECT_EQ(server.Wait(150s), 0) << server.output();
  call.join();
  EXPECT_TRUE(inflight_status.ok()) << inflight_status.error_code() << " " << inflight_status.error_message();
  ASSERT_EQ(inflight.results_size(), 1);
  EXPECT_EQ(inflight.results(0).steps_run(), 20000);
  EXPECT_NE(server.output().find("draining"), std::string::npos);
  // Once stopped, nothing listens.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 1s);
  nio::v1::ModelInfo info;
  EXPECT_FALSE(stub->GetModel(&ctx, {}, &info).ok());
}

TEST(ServerE2ETest, BadStartsExitNonZeroWithAMessage) {
  {
    ChildProcess server({ServerBinary(), "--model_dir", "/nonexistent/model", "--listen", "127.0.0.1:0"});
    EXPECT_EQ(server.Wait(30s), 2);
    EXPECT_NE(server.output().find("/nonexistent/model/model.json"), std::string::npos) << server.output();
  }
  {
    ChildProcess server({ServerBinary(), "--backend", "tpu"});
    EXPECT_EQ(server.Wait(30s), 1);
    EXPECT_NE(server.output().find("tpu"), std::string::npos);
  }
  {
    ChildProcess server({ServerBinary(), "--help"});
    server.Wait(30s);
    for (const char* flag : {"--model_dir", "--listen", "--backend", "--max_batch", "--max_queue", "--threads"}) {
      EXPECT_NE(server.output().find(flag), std::string::npos) << flag;
    }
  }
}

}  // namespace
}  // namespace nio
