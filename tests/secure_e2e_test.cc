// The real nio-server with TLS and tokens, through real clients: the nio
// CLI, a gRPC client with TLS credentials (health and the API) and curl on
// the HTTPS port. Certificates are made at test time (openssl); a client
// that trusts another CA, or (mutual TLS) shows no certificate, is refused.
#include <grpcpp/grpcpp.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "nio/v1/nio.grpc.pb.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace nio {
namespace {

namespace fs = std::filesystem;
using nio::testing::ChildProcess;
using nio::testing::RunProgram;
using nio::testing::RunResult;
using namespace std::chrono_literals;

constexpr char kAlice[] = "alice-0123456789abcdef";

class SecureE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = nio::testing::FreshScratchDir("secure_e2e");
    RunResult certs = RunProgram(
        {"/bin/bash",
         std::string(NIO_SOURCE_DIR) + "/tests/tools/make_test_certs.sh",
         dir_.string()},
        60s);
    ASSERT_EQ(certs.code, 0) << certs.output;
    nio::testing::WriteFile(Path("tokens"),
                            std::string("alice ") + kAlice +
                                "\nbob bob-0123456789abcdef00 batch\n");
    nio::testing::WriteFile(Path("alice.token"), std::string(kAlice) + "\n");
  }

  std::string Path(const std::string& name) const {
    return (dir_ / name).string();
  }
  std::string Pem(const std::string& name) const {
    return nio::testing::ReadFile(Path(name));
  }

  // Starts the server with TLS and tokens (and `extra` flags); reads its
  // ports from the start-up line.
  void StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        NIO_SERVER_BINARY,
        "--listen",
        "127.0.0.1:0",
        "--http_listen",
        "127.0.0.1:0",
        "--backend",
        "cpu",
        "--model_dir",
        nio::testing::TestDataDir() + "/tiny_model",
        "--tls_cert",
        Path("server.pem"),
        "--tls_key",
        Path("server.key"),
        "--auth_tokens",
        Path("tokens")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ChildProcess>(argv);
    ASSERT_TRUE(server_->WaitForOutput("(HTTP)", 60s)) << server_->output();
    std::smatch m;
    const std::string out = server_->output();
    ASSERT_TRUE(std::regex_search(
        out, m,
        std::regex("listening on 127.0.0.1:([0-9]+) \\(gRPC, (mutual )?TLS\\), "
                   "https://127.0.0.1:([0-9]+) \\(HTTP\\); 2 tokens")))
        << out;
    grpc_ = "127.0.0.1:" + m[1].str();
    https_ = "https://127.0.0.1:" + m[3].str();
    EXPECT_EQ(out.find(kAlice), std::string::npos) << "a token was logged";
  }

  RunResult Nio(std::vector<std::string> args) {
    args.insert(args.begin(), {NIO_CLI_BINARY, "info", "--server", grpc_});
    return RunProgram(args, 60s);
  }

  // curl's HTTP status for a GET ("000" when the TLS handshake fails).
  std::string Curl(const std::string& path, std::vector<std::string> args,
                   const std::vector<std::string>& more = {}) {
    args.insert(args.end(), more.begin(), more.end());
    std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-o",
                                     "/dev/null",     "-w", "%{http_code}",
                                     "--max-time",    "20"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(https_ + path);
    return RunProgram(argv, 60s).output;
  }

  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& ca) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Pem(ca);
    return grpc::CreateChannel(grpc_, grpc::SslCredentials(ssl));
  }

  fs::path dir_;
  std::unique_ptr<ChildProcess> server_;
  std::string grpc_, https_;
};

TEST_F(SecureE2ETest, TlsAndTokensOnBothPorts) {
  StartServer();
  // The CLI: the right CA and a token; no token; no TLS; the wrong CA.
  RunResult ok =
      Nio({"--tls_ca", Path("ca.pem"), "--token_file", Path("alice.token")});
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("tiny-random"), std::string::npos) << ok.output;
  RunResult no_token = Nio({"--tls_ca", Path("ca.pem")});
  EXPECT_EQ(no_token.code, 1) << no_token.output;
  EXPECT_NE(no_token.output.find("UNAUTHENTICATED"), std::string::npos);
  RunResult plaintext = Nio({"--token_file", Path("alice.token")});
  EXPECT_EQ(plaintext.code, 3) << plaintext.output;
  RunResult wrong_ca = Nio(
      {"--tls_ca", Path("other-ca.pem"), "--token_file", Path("alice.token")});
  EXPECT_EQ(wrong_ca.code, 3) << wrong_ca.output;
  EXPECT_NE(wrong_ca.output.find("--tls_ca"), std::string::npos);

  // gRPC: health answers without a token, the API does not.
  auto channel = TlsChannel("ca.pem");
  {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, {}, &resp).ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  auto stub = nio::v1::Nio::NewStub(channel);
  {
    grpc::ClientContext ctx;
    nio::v1::ModelInfo info;
    EXPECT_EQ(stub->GetModel(&ctx, {}, &info).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kAlice);
    nio::v1::ModelInfo info;
    EXPECT_TRUE(stub->GetModel(&ctx, {}, &info).ok());
  }

  // HTTPS: health and the page open; the API and metrics need the token; a
  // client that trusts another CA does not get through the handshake.
  const std::vector<std::string> ca = {"--cacert", Path("ca.pem")};
  const std::string bearer = std::string("Authorization: Bearer ") + kAlice;
  EXPECT_EQ(Curl("/healthz", ca), "200");
  EXPECT_EQ(Curl("/readyz", ca), "200");
  EXPECT_EQ(Curl("/", ca), "200");
  EXPECT_EQ(Curl("/v1/model", ca), "401");
  EXPECT_EQ(
      Curl("/v1/model", ca, {"-H", "Authorization: Bearer wrong-wrong-wrong"}),
      "401");
  EXPECT_EQ(Curl("/v1/model", ca, {"-H", bearer}), "200");
  EXPECT_EQ(Curl("/metrics", ca), "401");
  EXPECT_EQ(Curl("/metrics", ca, {"-H", bearer}), "200");
  EXPECT_EQ(Curl("/healthz", {"--cacert", Path("other-ca.pem")}), "000");
  EXPECT_EQ(Curl("/healthz", {}), "000");  // the system CAs: not ours

  // An Authorization header with bytes no token has: 401, and the server
  // (whose gRPC metadata cannot carry them) goes on.
  EXPECT_EQ(Curl("/v1/model", ca, {"-H", "Authorization: Bearer h\xc3\xa9llo"}),
            "401");
  EXPECT_EQ(Curl("/v1/model", ca, {"-H", "Authorization: Bearer a\tb"}), "401");
  EXPECT_EQ(Curl("/v1/model", ca, {"-H", bearer}), "200");
  // A batch token cannot claim the interactive class: 403.
  EXPECT_EQ(Curl("/v1/optimize", ca,
                 {"-H", "Authorization: Bearer bob-0123456789abcdef00", "-H",
                  "Content-Type: application/json", "-d",
                  R"({"tracks": [{"id": "x", "genre": "pop"}],
                      "options": {"priority": "PRIORITY_INTERACTIVE"}})"}),
            "403");

  // SIGHUP reloads nothing and kills nothing: logged, and the server goes on.
  server_->Signal(SIGHUP);
  ASSERT_TRUE(server_->WaitForOutput("SIGHUP: ignored", 30s))
      << server_->output();
  EXPECT_EQ(Curl("/v1/model", ca, {"-H", bearer}), "200");
}

TEST_F(SecureE2ETest, MutualTlsRefusesClientsWithoutACertificate) {
  StartServer(
      {"--tls_client_ca", Path("ca.pem"), "--metrics_access", "loopback"});
  EXPECT_NE(server_->output().find("mutual TLS"), std::string::npos);
  const std::vector<std::string> client_cert = {
      "--tls_cert", Path("client.pem"), "--tls_key", Path("client.key")};
  std::vector<std::string> args = {"--tls_ca", Path("ca.pem"), "--token_file",
                                   Path("alice.token")};
  RunResult without = Nio(args);
  EXPECT_EQ(without.code, 3) << without.output;
  args.insert(args.end(), client_cert.begin(), client_cert.end());
  RunResult with = Nio(args);
  EXPECT_EQ(with.code, 0) << with.output;
  // A certificate signed by another CA is refused too.
  ASSERT_EQ(
      RunProgram({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048",
                  "-nodes", "-days", "1", "-subj", "/CN=stranger", "-keyout",
                  Path("stranger.key"), "-out", Path("stranger.pem")},
                 60s)
          .code,
      0);
  RunResult stranger = Nio(
      {"--tls_ca", Path("ca.pem"), "--token_file", Path("alice.token"),
       "--tls_cert", Path("stranger.pem"), "--tls_key", Path("stranger.key")});
  EXPECT_EQ(stranger.code, 3) << stranger.output;

  const std::vector<std::string> ca = {"--cacert", Path("ca.pem")};
  EXPECT_EQ(Curl("/healthz", ca), "000");
  EXPECT_EQ(Curl("/healthz", ca,
                 {"--cert", Path("client.pem"), "--key", Path("client.key")}),
            "200");
  // --metrics_access loopback: metrics without a token from loopback (the
  // certificate still needed).
  EXPECT_EQ(Curl("/metrics", ca,
                 {"--cert", Path("client.pem"), "--key", Path("client.key")}),
            "200");
}

TEST_F(SecureE2ETest, BadTlsAndTokenFilesStopTheServerNamingTheFlag) {
  nio::testing::WriteFile(Path("bad-tokens"), "alice short\n");
  nio::testing::WriteFile(Path("not-a-cert"), "hello\n");
  struct Case {
    std::vector<std::string> flags;
    std::string fragment;
  };
  const std::string tiny = nio::testing::TestDataDir() + "/tiny_model";
  const Case cases[] = {
      {{"--auth_tokens", Path("bad-tokens")}, "--auth_tokens"},
      {{"--auth_tokens", Path("missing")}, "--auth_tokens: cannot read"},
      {{"--tls_cert", Path("not-a-cert"), "--tls_key", Path("server.key")},
       "--tls_cert"},
      {{"--tls_cert", Path("server.pem")}, "--tls_key go together"},
      {{"--tls_cert", Path("server.pem"), "--tls_key", Path("client.key")},
       "--tls_key: "},
      {{"--tls_cert", Path("server.pem"), "--tls_key", Path("server.key"),
        "--tls_client_ca", Path("not-a-cert")},
       "--tls_client_ca: "},
      {{"--max_track_steps", "60000000"}, "no caller could run"},
      {{"--tls_client_ca", Path("ca.pem")}, "--tls_client_ca needs"},
      {{"--metrics_access", "maybe"}, "--metrics_access"},
      {{"--max_track_steps", "0"}, "--max_track_steps"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {NIO_SERVER_BINARY,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--http_listen",
                                     "127.0.0.1:0",
                                     "--backend",
                                     "cpu",
                                     "--model_dir",
                                     tiny};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    RunResult r = RunProgram(argv, 60s);
    EXPECT_EQ(r.code, 1) << c.fragment << ": " << r.output;
    EXPECT_NE(r.output.find(c.fragment), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace nio
