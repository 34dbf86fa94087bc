// nio-server: serves NIO for one model over gRPC. See --help.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string_view>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "kernels/backend_factory.h"
#include "service/build_info.h"
#include "service/http_gateway.h"
#include "service/log.h"
#include "service/server.h"
#include "service/usage.h"

ABSL_FLAG(std::string, model_dir, "",
          "model directory (model.json + weights.safetensors); default: the "
          "bundled model, "
          "or $NIO_MODEL_DIR");
ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "address to listen on (host:port; port 0 = any)");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:8080",
          "address of the HTTP port (JSON API, /healthz, /readyz, /metrics, "
          "the web page at /); \"\" = no HTTP port");
ABSL_FLAG(int64_t, http_max_body_bytes, 64 << 20,
          "HTTP requests with a larger body get 413 (large catalogs: "
          "nio batch over gRPC)");
ABSL_FLAG(double, http_timeout_s, 300,
          "deadline of HTTP API calls without a grpc-timeout header "
          "(streams: none)");
ABSL_FLAG(int, http_threads, 128,
          "HTTP requests served at once (each waits for its answer on its own "
          "thread; API calls may take all but 8, kept for health and metrics)");
ABSL_FLAG(std::string, backend, "auto",
          "compute backend: auto (CUDA when a device is usable, else CPU), "
          "cpu, or cuda "
          "(fails without a device)");
ABSL_FLAG(int, max_batch, 1024, "active track slots sharing every step");
ABSL_FLAG(int, max_queue, 100000,
          "tracks waiting for a slot; beyond it calls get RESOURCE_EXHAUSTED");
ABSL_FLAG(int, threads, 0, "CPU backend threads (0 = all cores)");
ABSL_FLAG(bool, allow_tf32, false,
          "CUDA: allow TF32 tensor-core GEMMs (faster, ~1e-3 relative error; "
          "default exact fp32)");
ABSL_FLAG(int, interactive_slots, 64,
          "slots of the interactive block, which runs unary calls ahead of the "
          "catalog "
          "(batch) block; 0 = no interactive block");
ABSL_FLAG(int, interactive_max_tracks, 16,
          "the most tracks one request may run as interactive work; larger "
          "unary calls run "
          "as batch work (0 = every call is batch work)");
ABSL_FLAG(double, batch_min_share, 0.2,
          "the batch block's minimum share of compute time while interactive "
          "work waits, "
          "in [0, 1)");
ABSL_FLAG(
    int, batch_chunk_rows, -1,
    "rows per chunk of a batch step (an interactive step waits for at most one "
    "chunk); "
    "-1 = the backend's choice (CPU 128, CUDA whole steps), 0 = whole steps");
ABSL_FLAG(double, interactive_burst_ms, 40,
          "how long a burst of interactive work may run before the batch block "
          "claims its "
          "minimum share (shorter calls are not interrupted)");
ABSL_FLAG(
    int, stream_window, 4096,
    "OptimizeStream: tracks in flight per stream before it stops reading");
ABSL_FLAG(double, drain_timeout_s, 30,
          "on SIGTERM/SIGINT: seconds in-flight calls get to finish");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve gRPC and HTTP over TLS (read at "
          "start; a new certificate takes a restart)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA: mutual TLS, clients must show a certificate it signed");
ABSL_FLAG(std::string, auth_tokens, "",
          "file of `name token [interactive|batch]` lines: every API call "
          "needs `authorization: Bearer TOKEN` (health stays open); the name "
          "is the caller's fair share, metrics label and limit account");
ABSL_FLAG(std::string, metrics_access, "token",
          "who may read /metrics: token (a valid token when --auth_tokens is "
          "set, else anyone), loopback, or open");
ABSL_FLAG(int, max_message_bytes, 64 << 20,
          "largest gRPC message read (catalogs: OptimizeStream in smaller "
          "messages)");
ABSL_FLAG(int, max_connection_age_s, 300,
          "seconds after which a client connection is asked to go (calls on "
          "it finish first), so clients re-resolve DNS and find replicas "
          "added since; 0: never");
ABSL_FLAG(int, max_tracks_per_request, 1000,
          "tracks per Optimize/Predict request or stream message");
ABSL_FLAG(int64_t, max_track_steps, 1000000, "steps x starts of one track");
ABSL_FLAG(int64_t, max_caller_track_steps, 50000000,
          "steps x starts of all tracks one caller has queued or running "
          "(RESOURCE_EXHAUSTED beyond)");
ABSL_FLAG(int, max_streams_per_caller, 256,
          "OptimizeStream calls one caller may have open");
ABSL_FLAG(double, max_progress_events_per_s, 1000,
          "progress events sent per stream per second (the rest are "
          "dropped and counted; results never are)");

namespace {

// Accepts the dashed spelling of every flag (`--model-dir`, as the Python
// tools and many CLIs write it) by rewriting it to absl's `--model_dir`
// before parsing: absl has no flag aliases.
void AcceptDashedFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    if (std::string_view(a) == "--") return;  // the rest are not flags
    if (a[0] != '-') continue;
    char* name = a + (a[1] == '-' ? 2 : 1);
    for (char* c = name; *c != '\0' && *c != '='; ++c) {
      if (*c == '-' && c != name) *c = '_';
    }
  }
}

// Parses the flags; returns the exit code when the process should stop
// here (--help and --version: 0). absl's own handling exits 1 after --help,
// which scripts read as a failure, so usage flags are handled here.
std::optional<int> ParseFlags(int argc, char** argv) {
  AcceptDashedFlagNames(argc, argv);
  namespace fi = absl::flags_internal;
  fi::ParseCommandLineImpl(argc, argv, fi::ArgvListAction::kRemoveParsedArgs,
                           fi::UsageFlagsAction::kIgnoreUsage,
                           fi::OnUndefinedFlag::kAbortIfUndefined);
  if (fi::HandleUsageFlags(std::cout, absl::ProgramUsageMessage()) != -1) {
    return 0;
  }
  return std::nullopt;
}

int Run(int argc, char** argv) {
  nio::SetHelpToListFlagsOf("server_main.cc",
                            nio::service::VersionLine("nio-server"));
  absl::SetProgramUsageMessage(
      "Serves Neural Input Optimization for one model over gRPC (nio.v1.Nio, "
      "with\n"
      "grpc.health.v1 health and server reflection) and HTTP (the same API "
      "as JSON,\n"
      "/healthz, /readyz, Prometheus /metrics, and the web page at /).\n"
      "  nio-server [--model_dir DIR] [--listen 127.0.0.1:50051] "
      "[--http_listen 127.0.0.1:8080]\n"
      "             [--backend auto|cpu|cuda]\n"
      "Exit codes: 0 after a clean drain (SIGTERM/SIGINT), 1 bad flags (or "
      "their TLS\n"
      "and token files), 2 cannot load the model or start the backend, 3 "
      "cannot listen.\n"
      "Security (TLS, tokens, limits): SECURITY.md.\n"
      "Flags take _ or - between words (--model_dir or --model-dir).");
  if (std::optional<int> code = ParseFlags(argc, argv)) return *code;

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  // SIGHUP (often "reload") must not kill the server: it is logged, and
  // ignored.
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto choice = nio::kernels::ParseBackendChoice(absl::GetFlag(FLAGS_backend));
  if (!choice.ok()) {
    std::cerr << "nio-server: --backend: " << choice.status().message() << "\n";
    return 1;
  }
  if (absl::GetFlag(FLAGS_max_message_bytes) <= 0 ||
      absl::GetFlag(FLAGS_max_tracks_per_request) <= 0 ||
      absl::GetFlag(FLAGS_max_track_steps) <= 0 ||
      absl::GetFlag(FLAGS_max_caller_track_steps) <= 0 ||
      absl::GetFlag(FLAGS_max_streams_per_caller) <= 0 ||
      absl::GetFlag(FLAGS_max_connection_age_s) < 0 ||
      !(absl::GetFlag(FLAGS_max_progress_events_per_s) >= 0)) {
    std::cerr << "nio-server: --max_message_bytes, --max_tracks_per_request, "
                 "--max_track_steps, --max_caller_track_steps and "
                 "--max_streams_per_caller must be > 0, "
                 "--max_progress_events_per_s and --max_connection_age_s "
                 ">= 0\n";
    return 1;
  }
  if (absl::GetFlag(FLAGS_max_track_steps) >
      absl::GetFlag(FLAGS_max_caller_track_steps)) {
    std::cerr << "nio-server: --max_track_steps ("
              << absl::GetFlag(FLAGS_max_track_steps)
              << ") is more than --max_caller_track_steps ("
              << absl::GetFlag(FLAGS_max_caller_track_steps)
              << "): no caller could run such a track\n";
    return 1;
  }
  auto metrics_access =
      nio::service::ParseMetricsAccess(absl::GetFlag(FLAGS_metrics_access));
  if (!metrics_access.ok()) {
    std::cerr << "nio-server: " << metrics_access.status().message() << "\n";
    return 1;
  }
  if (absl::GetFlag(FLAGS_max_batch) <= 0 ||
      absl::GetFlag(FLAGS_max_queue) < 0 || absl::GetFlag(FLAGS_threads) < 0 ||
      absl::GetFlag(FLAGS_stream_window) <= 0 ||
      absl::GetFlag(FLAGS_interactive_slots) < 0 ||
      absl::GetFlag(FLAGS_interactive_max_tracks) < 0 ||
      absl::GetFlag(FLAGS_http_max_body_bytes) <= 0 ||
      absl::GetFlag(FLAGS_http_threads) <= 0 ||
      !(absl::GetFlag(FLAGS_http_timeout_s) >= 0)) {
    std::cerr
        << "nio-server: --max_batch, --stream_window, --http_max_body_bytes "
           "and --http_threads must be > 0; --max_queue, --threads, "
           "--interactive_slots, --interactive_max_tracks and "
           "--http_timeout_s >= 0\n";
    return 1;
  }
  const double share = absl::GetFlag(FLAGS_batch_min_share);
  const double burst_ms = absl::GetFlag(FLAGS_interactive_burst_ms);
  if (!(share >= 0 && share < 1) || !(burst_ms >= 0 && burst_ms <= 60000) ||
      absl::GetFlag(FLAGS_batch_chunk_rows) < -1) {
    std::cerr << "nio-server: --batch_min_share must be in [0, 1) (got "
              << share << "), --interactive_burst_ms in [0, 60000] (got "
              << burst_ms << "), --batch_chunk_rows >= -1\n";
    return 1;
  }
  nio::service::ServerOptions options;
  options.model_dir = absl::GetFlag(FLAGS_model_dir);
  options.listen = absl::GetFlag(FLAGS_listen);
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_connection_age_s = absl::GetFlag(FLAGS_max_connection_age_s);
  options.http.metrics_access = *metrics_access;
  nio::service::RequestLimits& limits = options.service.limits;
  limits.max_tracks_per_request = absl::GetFlag(FLAGS_max_tracks_per_request);
  limits.max_track_steps = absl::GetFlag(FLAGS_max_track_steps);
  limits.max_caller_track_steps = absl::GetFlag(FLAGS_max_caller_track_steps);
  limits.max_streams_per_caller = absl::GetFlag(FLAGS_max_streams_per_caller);
  limits.max_progress_events_per_s =
      absl::GetFlag(FLAGS_max_progress_events_per_s);
  options.http.listen = absl::GetFlag(FLAGS_http_listen);
  if (!options.http.listen.empty()) {
    if (auto parsed = nio::service::ParseHttpListen(options.http.listen);
        !parsed.ok()) {
      std::cerr << "nio-server: " << parsed.status().message() << "\n";
      return 1;
    }
  }
  options.http.max_body_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_http_max_body_bytes));
  options.http.default_timeout_s = absl::GetFlag(FLAGS_http_timeout_s);
  options.http.threads = absl::GetFlag(FLAGS_http_threads);
  options.scheduler.backend = *choice;
  options.scheduler.max_batch = absl::GetFlag(FLAGS_max_batch);
  options.scheduler.max_queue = absl::GetFlag(FLAGS_max_queue);
  options.scheduler.compute.threads = absl::GetFlag(FLAGS_threads);
  options.scheduler.compute.allow_tf32 = absl::GetFlag(FLAGS_allow_tf32);
  options.scheduler.interactive_slots = absl::GetFlag(FLAGS_interactive_slots);
  options.scheduler.batch_min_share = share;
  options.scheduler.batch_chunk_rows = absl::GetFlag(FLAGS_batch_chunk_rows);
  options.scheduler.interactive_burst =
      std::chrono::duration_cast<nio::service::Clock::duration>(
          std::chrono::duration<double, std::milli>(burst_ms));
  options.service.stream_window = absl::GetFlag(FLAGS_stream_window);
  options.service.interactive_max_tracks =
      absl::GetFlag(FLAGS_interactive_max_tracks);
  auto server = nio::service::NioServer::Start(options);
  if (!server.ok()) {
    std::cerr << "nio-server: " << server.status() << "\n";
    // 3: cannot listen; 1: a flag's file is bad (TLS, tokens); 2: model or
    // backend.
    const absl::StatusCode code = server.status().code();
    if (code == absl::StatusCode::kUnavailable) return 3;
    const std::string message(server.status().message());
    if (message.substr(0, 6) == "--tls_" ||
        message.substr(0, 13) == "--auth_tokens")
      return 1;
    return 2;
  }
  NIO_LOG(INFO) << (*server)->start_line();

  int signal = 0;
  while (sigwait(&stop_signals, &signal) == 0 && signal == SIGHUP) {
    NIO_LOG(INFO) << "SIGHUP: ignored; the model, --tls_* files and "
                     "--auth_tokens are read at start only: restart (SIGTERM "
                     "drains first) to load new ones";
  }
  const double drain = absl::GetFlag(FLAGS_drain_timeout_s);
  NIO_LOG(INFO) << "received signal " << signal << ": draining (up to " << drain
                << " s)";
  (*server)->Shutdown(
      std::chrono::milliseconds(static_cast<int64_t>(drain * 1000)));
  const auto stats = (*server)->scheduler().Stats();
  NIO_LOG(INFO) << "stopped: " << stats.completed << " tracks completed, "
                << stats.cancelled << " cancelled, " << stats.deadline_exceeded
                << " past deadline, " << stats.failed << " failed, "
                << stats.shut_down << " cut by the shutdown, " << stats.steps
                << " steps";
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
