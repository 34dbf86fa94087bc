// nio: the command-line client of the NIO service. Subcommands info,
// predict, optimize, batch and bench; see `nio --help` and `nio <cmd> --help`.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/batch_job.h"
#include "client/batch_resume.h"
#include "client/load_bench.h"
#include "client/mixed_load.h"
#include "client/report.h"
#include "client/result_record.h"
#include "client/result_writer.h"
#include "client/session.h"
#include "google/protobuf/util/json_util.h"
#include "kernels/backend_factory.h"
#include "models/feature_validity.h"
#include "models/track_json.h"
#include "service/auth_tokens.h"
#include "service/build_info.h"
#include "service/proto_convert.h"

namespace {

using nio::client::Session;

// Exit codes (documented in --help and client/README.md).
enum ExitCode {
  kOk = 0,
  kUsage = 1,        // bad flags or arguments
  kBadInput = 2,     // unreadable/invalid input, unknown preset, invalid track
  kUnavailable = 3,  // no server answers (or the local model cannot load)
  kFailed = 4,       // the server/engine failed the request
  kPartial = 5,      // batch finished, but some rows or tracks failed
  kInterrupted = 130,  // Ctrl-C (SIGINT), as shells report 128 + signal
};

constexpr char kExitCodes[] =
    "Exit codes: 0 ok; 1 usage error (a flag, its value, or flags that do not\n"
    "go together; no valid --token_file for a server that needs one); 2 bad "
    "input (file, track, preset); 3 no server at --server\n"
    "or the --local engine cannot start; 4 the request failed on the\n"
    "server/engine, or the output could not be written (a full disk); 5\n"
    "done, but some rows were bad or tracks failed (not\n"
    "for duplicate rows); 130 interrupted (Ctrl-C). Flags take _ or -\n"
    "between words (--model_dir, --model-dir).";

int ExitFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return kOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
      return kBadInput;
    case absl::StatusCode::kUnavailable:
      return kUnavailable;
    // An existing output without --resume/--overwrite, --resume under other
    // options: the command line must change.
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    // No token, or one the server does not know: --token_file must change.
    case absl::StatusCode::kUnauthenticated:
      return kUsage;
    default:
      return kFailed;
  }
}

int Fail(const absl::Status& s) {
  std::cerr << "nio: " << s.message() << " ["
            << absl::StatusCodeToString(s.code()) << "]\n";
  return ExitFor(s);
}

// A flag's value is wrong in a way only known after parsing (`--bound`,
// `--set`): a usage error like CLI11's own, whatever the status code.
int Usage(const absl::Status& s) {
  std::cerr << "nio: " << s.message() << "\n";
  return kUsage;
}

struct Common {
  std::string server =
      std::getenv("NIO_SERVER") ? std::getenv("NIO_SERVER") : "127.0.0.1:50051";
  bool local = false;
  // TLS files from the flags; the token from --token_file or $NIO_TOKEN
  // (ResolveToken).
  nio::client::ConnectOptions connect;
  std::string token_file =
      std::getenv("NIO_TOKEN_FILE") ? std::getenv("NIO_TOKEN_FILE") : "";
  std::string backend = "auto";  // parsed into local.engine.backend
  double keepalive_s = 20;       // into connect.keepalive (ResolveToken)
  nio::client::LocalOptions local_options;
};

// The server, or with --local the engine here. Whatever keeps the --local
// engine from starting (no model at --model_dir, a model that does not load,
// --backend cuda without a device) is UNAVAILABLE, as no server would be:
// exit 3 either way.
absl::StatusOr<std::unique_ptr<Session>> Open(const Common& c) {
  if (!c.local) return Session::Remote(c.server, c.connect);
  auto choice = nio::kernels::ParseBackendChoice(c.backend);
  if (!choice.ok()) return choice.status();
  std::string no_cuda;
  if (*choice == nio::kernels::BackendChoice::kCuda &&
      nio::kernels::CudaDeviceCount(&no_cuda) == 0) {
    return absl::UnavailableError(
        absl::StrCat("--backend cuda: no usable CUDA device: ", no_cuda,
                     " (--backend cpu or auto runs on the CPU)"));
  }
  nio::client::LocalOptions o = c.local_options;
  o.engine.backend = *choice;
  auto s = Session::Local(o);
  if (!s.ok()) return absl::UnavailableError(s.status().message());
  return s;
}

// "--model_dir,--model-dir": CLI11 names for a multi-word flag, the
// documented spelling first and the other accepted as an alias.
std::string Names(const std::string& flag) {
  std::string other = flag;
  const char from = flag.find('_') != std::string::npos ? '_' : '-';
  for (size_t i = 2; i < other.size(); ++i) {
    if (other[i] == from) other[i] = from == '_' ? '-' : '_';
  }
  return other == flag ? flag : flag + "," + other;
}

// The engine flags only mean something with --local: given without it they
// are a usage error naming the flag (CLI11: "--threads requires --local"),
// never silently ignored while a server's model answers.
// How to reach a server with TLS or tokens (nio-server --tls_cert,
// --auth_tokens).
void AddConnectFlags(CLI::App* cmd, Common* c) {
  cmd->add_option(Names("--tls_ca"), c->connect.tls_ca_file,
                  "PEM CA of the server's certificate: connect over TLS");
  cmd->add_option(Names("--tls_cert"), c->connect.tls_cert_file,
                  "PEM client certificate, for a server with mutual TLS");
  cmd->add_option(Names("--tls_key"), c->connect.tls_key_file,
                  "PEM key of --tls_cert");
  cmd->add_option("--lb", c->connect.lb,
                  "how calls spread over the servers --server resolves to "
                  "(dns:///name:port, ipv4:A:p,B:q): pick_first (one at a "
                  "time, the next when it fails) or round_robin")
      ->check(CLI::IsMember({"pick_first", "round_robin"}));
  cmd->add_option(Names("--keepalive_s"), c->keepalive_s,
                  "seconds between pings while calls are open; a server "
                  "that answers none within min(this, 10 s) is treated as "
                  "gone (a batch sends its tracks elsewhere); 0: no pings")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option(Names("--token_file"), c->token_file,
                  "file holding this caller's token (default $NIO_TOKEN_FILE; "
                  "or the token itself in $NIO_TOKEN)");
}

// The token to send: --token_file's, else $NIO_TOKEN's, else none.
absl::Status ResolveToken(Common* c) {
  if (!c->token_file.empty()) {
    auto token = nio::client::ReadTokenFile(c->token_file);
    if (!token.ok()) return token.status();
    c->connect.token = *token;
  } else if (const char* env = std::getenv("NIO_TOKEN")) {
    if (!nio::service::ValidTokenText(env)) {
      return absl::InvalidArgumentError(
          "$NIO_TOKEN: holds characters no token has (printable ASCII "
          "without spaces only)");
    }
    c->connect.token = env;
  }
  c->connect.keepalive =
      std::chrono::milliseconds(static_cast<int64_t>(c->keepalive_s * 1000));
  // TLS flags that do not go together are a usage error, before any
  // connection is tried.
  const nio::client::ConnectOptions& t = c->connect;
  if (t.tls_cert_file.empty() != t.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (!t.tls_cert_file.empty() && t.tls_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert/--tls_key need --tls_ca (the CA of the server's "
        "certificate)");
  }
  return absl::OkStatus();
}

void AddCommon(CLI::App* cmd, Common* c) {
  cmd->add_option("--server", c->server,
                  "server: host:port or a gRPC target (dns:///name:port, "
                  "ipv4:A:p,B:q; see --lb) (default $NIO_SERVER or "
                  "127.0.0.1:50051)");
  AddConnectFlags(cmd, c);
  CLI::Option* local =
      cmd->add_flag("--local", c->local,
                    "run the engine in this process instead of asking a "
                    "server");
  cmd->add_option(Names("--model_dir"), c->local_options.model_dir,
                  "--local: model directory (default: the bundled model)")
      ->needs(local);
  cmd->add_option("--backend", c->backend, "--local: auto, cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->needs(local);
  cmd->add_option(Names("--max_batch"), c->local_options.engine.max_batch,
                  "--local: track slots")
      ->check(CLI::PositiveNumber)
      ->needs(local);
  cmd->add_option("--threads", c->local_options.engine.compute.threads,
                  "--local: CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->needs(local);
}

// How a single track is given: flags, a preset or a JSON file.
struct TrackInput {
  std::vector<std::string> sets;
  std::string genre;
  std::string preset;
  std::string input;
  std::string id = "track";
};

// A JSON file gives whole tracks: the flags that build one track are
// refused beside it rather than silently dropped.
void AddTrackInput(CLI::App* cmd, TrackInput* t) {
  CLI::Option* input = cmd->add_option(
      "--input", t->input,
      "tracks JSON file ({\"tracks\": [...]}, see client/README.md)");
  cmd->add_option("--set", t->sets,
                  "feature=value (repeatable), e.g. --set danceability=0.7; "
                  "values outside a feature's valid range (`nio info`) are "
                  "refused")
      ->excludes(input);
  cmd->add_option("--genre", t->genre, "genre name (see `nio info`)")
      ->excludes(input);
  cmd->add_option(
         "--preset", t->preset,
         "start from a preset: custom, chill, edm, sad-ballad (see `nio info`)")
      ->excludes(input);
  cmd->add_option("--id", t->id, "track id for --set/--preset input")
      ->excludes(input);
}

// The tracks (and, from a JSON file, per-track options) to send.
absl::StatusOr<std::vector<nio::models::TrackRequest>> ReadTracks(
    const TrackInput& in, const nio::v1::ModelInfo& info) {
  if (!in.input.empty()) return nio::models::ReadTracksJsonFile(in.input);
  nio::models::TrackRequest r;
  r.track.id = in.id;
  if (!in.preset.empty()) {
    const nio::v1::Preset* found = nullptr;
    std::vector<std::string> names;
    for (const auto& p : info.presets()) {
      names.push_back(p.name());
      if (p.name() == in.preset) found = &p;
    }
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("--preset ", in.preset, ": unknown preset (",
                       absl::StrJoin(names, ", "), ")"));
    }
    r.track.genre = found->track().genre();
    for (const auto& [k, v] : found->track().features())
      r.track.features.emplace_back(k, v);
    std::sort(r.track.features.begin(), r.track.features.end());
  }
  if (!in.genre.empty()) r.track.genre = in.genre;
  for (const std::string& s : in.sets) {
    std::vector<std::string> kv = absl::StrSplit(s, absl::MaxSplits('=', 1));
    double v = 0;
    if (kv.size() != 2 || !absl::SimpleAtod(kv[1], &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", s, ": expected feature=number"));
    }
    auto it = std::find_if(r.track.features.begin(), r.track.features.end(),
                           [&](const auto& f) { return f.first == kv[0]; });
    if (it != r.track.features.end()) {
      it->second = v;
    } else {
      r.track.features.emplace_back(kv[0], v);
    }
  }
  if (r.track.genre.empty()) {
    return absl::InvalidArgumentError(
        "give --genre, --preset or --input (a track needs a genre)");
  }
  return std::vector<nio::models::TrackRequest>{r};
}

struct OptionFlags {
  int steps = 0;
  double lr = 0;
  double lambda = -1;
  std::string mode;
  std::vector<std::string> mutable_features;
  std::vector<std::string> bounds;
  int starts = 0;
  double target = 0;
  bool target_set = false;
  std::vector<std::string> max_delta;
  double tolerance = -1;
  int tolerance_window = 0;
  int time_budget_ms = 0;
  int max_changed = 0;
  std::string optimizer;
  int start_pool = -1;
  std::vector<std::string> increase;
  std::vector<std::string> decrease;
};

// Out-of-range values are usage errors here (exit 1), never taken as "the
// model's default": the defaults are the values no one can type (0, -1).
void AddOptionFlags(CLI::App* cmd, OptionFlags* o) {
  cmd->add_option("--steps", o->steps, "NIO steps (default: the model's)")
      ->check(CLI::Range(1, nio::models::kMaxSteps))
      ->default_str("");
  cmd->add_option("--lr", o->lr, "Adam learning rate (default: the model's)")
      ->check(CLI::PositiveNumber & CLI::Range(0.0, 10.0))
      ->default_str("");
  cmd->add_option("--lambda", o->lambda,
                  "L2 proximity weight (default: the model's)")
      ->check(CLI::Range(0.0, 1e6))
      ->default_str("");
  cmd->add_option("--mode", o->mode,
                  "projected (effective boxes in every step) or reference (the "
                  "original app's semantics: +-3 each step, realistic ranges "
                  "clamped after); default: the model's (`nio info`)")
      ->check(CLI::IsMember({"reference", "projected"}));
  cmd->add_option("--mutable", o->mutable_features,
                  "numeric features that may move (comma-separated; default: "
                  "the model's)")
      ->delimiter(',');
  cmd->add_option(
      "--bound", o->bounds,
      "feature=min:max limits, repeatable (either side may be empty)");
  cmd->add_option("--starts", o->starts,
                  "starts per track: the track plus K-1 pseudo-random "
                  "feasible points, the best answers (default: the model's)")
      ->check(CLI::Range(1, nio::models::kMaxStarts))
      ->default_str("");
  cmd->add_option("--target", o->target,
                  "each start stops at the first point whose prediction "
                  "reaches this; the smallest such change answers (projected "
                  "mode)")
      ->check(CLI::Range(-1e9, 1e9))
      ->each([o](const std::string&) { o->target_set = true; })
      ->default_str("");
  cmd->add_option(Names("--max-delta"), o->max_delta,
                  "feature=D: |optimized - original| <= D, repeatable");
  cmd->add_option("--tolerance", o->tolerance,
                  "stop a start when its objective improves by less than "
                  "this (relative) for --tolerance-window steps (default: "
                  "off)")
      ->check(CLI::Range(0.0, 0.999999))
      ->default_str("");
  cmd->add_option(Names("--tolerance-window"), o->tolerance_window,
                  "steps without enough improvement before a start stops "
                  "(default 20)")
      ->check(CLI::Range(1, nio::models::kMaxSteps))
      ->default_str("");
  cmd->add_option(Names("--time-budget-ms"), o->time_budget_ms,
                  "answer each track after this many ms with its best point "
                  "so far")
      ->check(CLI::Range(1, nio::models::kMaxTimeBudgetMs))
      ->default_str("");
  cmd->add_option(Names("--max-changed"), o->max_changed,
                  "at most N features differ from the original (the N that "
                  "move most are re-optimized alone)")
      ->check(CLI::Range(1, 1000))
      ->default_str("");
  cmd->add_option("--optimizer", o->optimizer,
                  "adam, or lbfgs (a projected L-BFGS: the answer of many "
                  "Adam steps in a few, e.g. --starts 8 --steps 30; projected "
                  "mode, no --lr); default: the model's (`nio info`)")
      ->check(CLI::IsMember({"adam", "lbfgs"}));
  cmd->add_option(Names("--start-pool"), o->start_pool,
                  "score N pseudo-random feasible points with one forward "
                  "pass and start from the track plus the best K-1 (0: off; "
                  "default: the model's)")
      ->check(CLI::Range(0, nio::models::kMaxStartPool))
      ->default_str("");
  cmd->add_option("--increase", o->increase,
                  "features that may only increase (comma-separated)")
      ->delimiter(',');
  cmd->add_option("--decrease", o->decrease,
                  "features that may only decrease (comma-separated)")
      ->delimiter(',');
}

absl::StatusOr<nio::models::NioOptions> ToOptions(const OptionFlags& f) {
  nio::models::NioOptions o;
  if (f.steps != 0) o.steps = f.steps;
  if (f.lr != 0) o.lr = f.lr;
  if (f.lambda >= 0) o.lambda = f.lambda;
  if (!f.mode.empty()) o.mode = *nio::models::ParseNioMode(f.mode);
  o.mutable_features = f.mutable_features;
  for (const std::string& b : f.bounds) {
    std::vector<std::string> kv = absl::StrSplit(b, absl::MaxSplits('=', 1));
    std::vector<std::string> mm = kv.size() == 2 ? absl::StrSplit(kv[1], ':')
                                                 : std::vector<std::string>{};
    if (mm.size() != 2)
      return absl::InvalidArgumentError(
          absl::StrCat("--bound ", b, ": expected feature=min:max"));
    nio::models::FeatureBounds fb;
    double v;
    if (!mm[0].empty()) {
      if (!absl::SimpleAtod(mm[0], &v))
        return absl::InvalidArgumentError(
            absl::StrCat("--bound ", b, ": bad min"));
      fb.min = v;
    }
    if (!mm[1].empty()) {
      if (!absl::SimpleAtod(mm[1], &v))
        return absl::InvalidArgumentError(
            absl::StrCat("--bound ", b, ": bad max"));
      fb.max = v;
    }
    o.bounds[kv[0]] = fb;
  }
  if (f.starts != 0) o.starts = f.starts;
  if (f.target_set) o.target = f.target;
  if (f.tolerance_window != 0 && f.tolerance < 0) {
    return absl::InvalidArgumentError(
        "--tolerance-window needs --tolerance (the convergence stop is off "
        "without it)");
  }
  for (const std::string& d : f.max_delta) {
    std::vector<std::string> kv = absl::StrSplit(d, absl::MaxSplits('=', 1));
    double v = 0;
    if (kv.size() != 2 || !absl::SimpleAtod(kv[1], &v) || !(v >= 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--max-delta ", d, ": expected feature=D with D >= 0"));
    }
    o.bounds[kv[0]].max_delta = v;
  }
  if (f.tolerance >= 0) o.tolerance = f.tolerance;
  if (f.tolerance_window != 0) o.tolerance_window = f.tolerance_window;
  if (f.time_budget_ms != 0) o.time_budget_ms = f.time_budget_ms;
  if (f.max_changed != 0) o.max_changed_features = f.max_changed;
  if (!f.optimizer.empty())
    o.optimizer = *nio::models::ParseOptimizer(f.optimizer);
  if (f.start_pool >= 0) o.start_pool = f.start_pool;
  for (const auto& [names, direction] :
       {std::pair{&f.increase, nio::models::Direction::kIncrease},
        std::pair{&f.decrease, nio::models::Direction::kDecrease}}) {
    for (const std::string& name : *names) {
      nio::models::FeatureBounds& fb = o.bounds[name];
      if (fb.direction != nio::models::Direction::kAny &&
          fb.direction != direction) {
        return absl::InvalidArgumentError(
            absl::StrCat("--increase and --decrease both name '", name, "'"));
      }
      fb.direction = direction;
    }
  }
  return o;
}

// Exit 0 when the server answers SERVING (a container health check, a
// Kubernetes exec probe); 3 when nothing answers in time, 4 for any other
// answer. Waits at most `timeout_s` in all, connecting included.
int RunHealth(Common c, const std::string& service, double timeout_s,
              const std::string& format) {
  const auto timeout = std::chrono::milliseconds(
      static_cast<int64_t>(std::max(0.001, timeout_s) * 1000));
  const auto start = std::chrono::steady_clock::now();
  c.connect.connect_timeout = timeout;
  auto client = nio::client::NioClient::Connect(c.server, c.connect);
  if (!client.ok()) return Fail(client.status());
  const auto left =
      std::max(std::chrono::milliseconds(1),
               timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - start));
  auto status = (*client)->Health(service, left);
  if (!status.ok()) {
    const int code = Fail(status.status());
    return status.status().code() == absl::StatusCode::kNotFound ? kFailed
                                                                 : code;
  }
  if (format == "json") {
    nlohmann::json j = {{"server", c.server}, {"status", *status}};
    if (!service.empty()) j["service"] = service;
    std::cout << j.dump() << "\n";
  } else {
    std::cout << *status << "\n";
  }
  if (*status == "SERVING") return kOk;
  std::cerr << "nio: the server at " << c.server << " is " << *status
            << (service.empty() ? "" : " for " + service) << "\n";
  return kFailed;
}

int RunInfo(const Common& c, const std::string& format) {
  auto session = Open(c);
  if (!session.ok()) return Fail(session.status());
  auto info = (*session)->GetModel();
  if (!info.ok()) return Fail(info.status());
  if (format == "json") {
    std::string json;
    google::protobuf::util::JsonPrintOptions o;
    o.add_whitespace = true;
    // Every field, zeros and false included (a range that starts at 0),
    // under the proto's snake_case names like every other CLI JSON.
    o.always_print_primitive_fields = true;
    o.preserve_proto_field_names = true;
    if (auto s = google::protobuf::util::MessageToJsonString(*info, &json, o);
        !s.ok()) {
      return Fail(absl::InternalError(
          absl::StrCat("cannot print the model as JSON: ", s.ToString())));
    }
    std::cout << json;
  } else {
    std::cout << nio::client::RenderModelInfo(*info);
  }
  return kOk;
}

// A session, its model and the tracks a predict/optimize command names.
struct TrackCommand {
  std::unique_ptr<Session> session;
  nio::v1::ModelInfo info;
  std::vector<nio::models::TrackRequest> requests;
};

absl::StatusOr<TrackCommand> StartTrackCommand(const Common& c,
                                               const TrackInput& in) {
  TrackCommand t;
  auto session = Open(c);
  if (!session.ok()) return session.status();
  t.session = std::move(*session);
  auto info = t.session->GetModel();
  if (!info.ok()) return info.status();
  t.info = std::move(*info);
  auto requests = ReadTracks(in, t.info);
  if (!requests.ok()) return requests.status();
  t.requests = std::move(*requests);
  return t;
}

// One line on stderr for a track that failed, naming the track once (an
// engine message usually names it already: "track 'x': feature ...").
void ReportTrackError(const std::string& id, const absl::Status& s) {
  const std::string named = absl::StrCat("track '", id, "'");
  std::cerr << "nio: "
            << (absl::StartsWith(s.message(), named) ? "" : named + ": ")
            << s.message() << " [" << absl::StatusCodeToString(s.code())
            << "]\n";
}

// The exit code of a command over several tracks: OK, or the first
// failure's code when every track failed, or kPartial.
int TracksExit(const std::vector<absl::Status>& failures, size_t tracks) {
  if (failures.empty()) return kOk;
  return failures.size() == tracks ? ExitFor(failures.front()) : kPartial;
}

int RunPredict(const Common& c, const TrackInput& in,
               const std::string& format) {
  auto cmd = StartTrackCommand(c, in);
  if (!cmd.ok()) return Fail(cmd.status());
  const nio::v1::ModelInfo* info = &cmd->info;
  std::vector<nio::models::RawTrack> tracks;
  for (const auto& r : cmd->requests) tracks.push_back(r.track);
  auto preds = cmd->session->Predict(tracks);
  if (!preds.ok()) return Fail(preds.status());
  std::vector<absl::Status> failures;
  // The same keys for every record, a failed one included.
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (size_t i = 0; i < tracks.size(); ++i) {
    const auto& p = (*preds)[i];
    nlohmann::ordered_json record;
    record["id"] = tracks[i].id;
    record["genre"] = tracks[i].genre;
    record["status"] = p.ok() ? "ok" : "error";
    record["error"] = p.ok() ? "" : std::string(p.status().message());
    record["prediction"] =
        p.ok() ? nlohmann::ordered_json(nio::client::FloatValue(*p)) : nullptr;
    out.push_back(std::move(record));
    if (!p.ok()) {
      failures.push_back(p.status());
      ReportTrackError(tracks[i].id, p.status());
      continue;
    }
    if (format != "json")
      std::printf("%s (%s): predicted %s %s\n", tracks[i].id.c_str(),
                  tracks[i].genre.c_str(), info->output_name().c_str(),
                  nio::client::PredictionText(*p).c_str());
  }
  if (format == "json") std::cout << out.dump(1) << "\n";
  return TracksExit(failures, tracks.size());
}

// `--format json` prints a list of result records (client/result_record.h),
// one per track even for one track, a failed track included.
int RunOptimize(const Common& c, const TrackInput& in, const OptionFlags& flags,
                const std::string& format, bool show_best) {
  auto options = ToOptions(flags);
  if (!options.ok()) return Usage(options.status());
  auto cmd = StartTrackCommand(c, in);
  if (!cmd.ok()) return Fail(cmd.status());
  const nio::v1::ModelInfo* info = &cmd->info;
  const auto* requests = &cmd->requests;
  auto& session = cmd->session;
  std::vector<absl::Status> failures;
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  bool first = true;
  for (const auto& r : *requests) {
    // Options: the file's per-track options, overridden by flags.
    const nio::models::NioOptions o =
        nio::models::OverrideOptions(r.options, *options);
    nio::client::ResultRecord record;
    record.id = r.track.id;
    record.genre = r.track.genre;
    auto outcomes = session->Optimize({r.track}, o);
    record.outcome = outcomes.ok()
                         ? (*outcomes)[0]
                         : nio::models::TrackOutcome{outcomes.status(), {}};
    out.push_back(nio::client::ResultRecordJson(record));
    if (!record.outcome.status.ok()) {
      failures.push_back(record.outcome.status);
      ReportTrackError(r.track.id, record.outcome.status);
      continue;
    }
    if (format == "json") continue;
    if (!first) std::cout << "\n" << std::string(72, '-') << "\n\n";
    first = false;
    nio::client::ReportOptions report;
    report.show_best = show_best;
    report.mode = o.mode.value_or(info->default_options().mode() ==
                                          nio::v1::MODE_REFERENCE
                                      ? nio::models::NioMode::kReference
                                      : nio::models::NioMode::kProjected);
    std::cout << nio::client::RenderOptimizeReport(record, *info, report);
  }
  if (format == "json") std::cout << out.dump(1) << "\n";
  return TracksExit(failures, requests->size());
}

// INVALID_ARGUMENT naming the flag for a --mutable feature the model does
// not have or cannot move (integer, binary).
absl::Status CheckMutable(
    const std::vector<std::string>& names,
    const std::vector<nio::models::FeatureSpec>& features) {
  for (const std::string& name : names) {
    auto it = std::find_if(features.begin(), features.end(),
                           [&](const auto& f) { return f.name == name; });
    if (it == features.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--mutable ", name, ": unknown feature (see `nio info`)"));
    }
    if (absl::Status s = nio::models::CheckMovable(*it); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mutable: ", s.message()));
    }
  }
  return absl::OkStatus();
}

// Ctrl-C during `nio batch`: every record is written and flushed whole,
// so the output is consistent at any instant. Say what is saved and how to
// go on, and exit 130 at once rather than wait for the tracks in flight.
// Call before any other thread starts: they inherit the blocked SIGINT, so
// only the waiting thread takes it.
void ResumeHintOnInterrupt(const std::string& output,
                           const std::vector<std::string>& argv) {
  sigset_t interrupt;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  pthread_sigmask(SIG_BLOCK, &interrupt, nullptr);
  std::thread([interrupt, output, argv] {
    int signal = 0;
    if (sigwait(&interrupt, &signal) != 0) return;
    const std::string hint = absl::StrCat(
        "\nnio: interrupted\n", nio::client::ResumeHint(output, argv));
    std::fwrite(hint.data(), 1, hint.size(), stderr);
    std::fflush(stderr);
    _exit(kInterrupted);
  }).detach();
}

int RunBatch(const Common& c, nio::client::BatchOptions b,
             const OptionFlags& flags, const std::string& shard,
             nio::client::StreamOptions stream, const std::string& progress,
             const std::vector<std::string>& argv) {
  ResumeHintOnInterrupt(b.output, argv);
  if (!shard.empty()) {
    if (absl::Status s =
            nio::client::ParseShard(shard, &b.shard_index, &b.shard_count);
        !s.ok()) {
      return Usage(s);
    }
  }
  if (auto f = nio::client::FormatOf(b.output); !f.ok())
    return Fail(f.status());
  auto options = ToOptions(flags);
  if (!options.ok()) return Usage(options.status());
  b.options = *options;
  b.progress = progress == "bar"     ? nio::client::ProgressMode::kBar
               : progress == "plain" ? nio::client::ProgressMode::kPlain
               : progress == "none"  ? nio::client::ProgressMode::kNone
                                     : nio::client::ProgressMode::kAuto;
  auto session = Open(c);
  if (!session.ok()) return Fail(session.status());
  auto info = (*session)->GetModel();
  if (!info.ok()) return Fail(info.status());
  b.model_name = info->name();
  b.model_version = info->version();
  const auto& defaults = info->default_options();
  b.model_defaults.steps = defaults.steps();
  b.model_defaults.lr = defaults.lr();
  b.model_defaults.lambda = defaults.lambda();
  // A server older than starts sends none: one start, its only behaviour.
  b.model_defaults.starts = defaults.has_starts() ? defaults.starts() : 1;
  b.model_defaults.mode = defaults.mode() == nio::v1::MODE_REFERENCE
                              ? nio::models::NioMode::kReference
                              : nio::models::NioMode::kProjected;
  // A server older than the optimizer option sends none: Adam, no pool.
  b.model_defaults.optimizer = defaults.optimizer() == nio::v1::OPTIMIZER_LBFGS
                                   ? nio::models::Optimizer::kLbfgs
                                   : nio::models::Optimizer::kAdam;
  b.model_defaults.start_pool = defaults.start_pool();
  for (const auto& f : info->features()) {
    auto spec = nio::service::FromProto(f);
    if (!spec.ok()) return Fail(spec.status());
    b.model_features.push_back(*spec);
    const bool moves =
        b.options.mutable_features.empty()
            ? f.mutable_by_default()
            : std::count(b.options.mutable_features.begin(),
                         b.options.mutable_features.end(), f.name()) > 0;
    if (moves) b.output_features.push_back(f.name());
  }
  // Refuse options every track would fail on before reading a row.
  if (absl::Status s =
          CheckMutable(b.options.mutable_features, b.model_features);
      !s.ok()) {
    return Fail(s);
  }
  for (const auto& [name, bounds] : b.options.bounds) {
    if (std::count(b.output_features.begin(), b.output_features.end(), name))
      continue;
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--bound/--max-delta/--increase/--decrease ", name,
        ": the feature does not move in this job (see --mutable and `nio "
        "info`)")));
  }
  if (b.options.target && b.options.mode.value_or(b.model_defaults.mode) !=
                              nio::models::NioMode::kProjected) {
    return Fail(absl::InvalidArgumentError(
        "--target needs projected mode (this model's default is reference: "
        "add --mode projected)"));
  }
  const bool round_robin = c.connect.lb == "round_robin";
  if (stream.streams == 0) stream.streams = round_robin ? 4 : 1;
  if (stream.tracks_per_stream == 0 && round_robin)
    stream.tracks_per_stream = 4 * static_cast<int64_t>(stream.window);
  // Several messages fit the window, so the stream never waits for a whole
  // message to be answered before it sends the next.
  b.message_tracks = std::clamp(stream.window / 4, 1, b.message_tracks);
  stream.note = [](const std::string& line) {
    // Notes come from several streams' threads: one whole line each.
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    std::cerr << "nio batch: " << line << "\n";
  };
  auto engine = (*session)->StreamEngine(stream);
  if (!engine.ok()) return Fail(engine.status());
  std::cerr << "nio batch: " << b.input << " -> " << b.output << " via "
            << (*engine)->Describe()
            << (b.shard_count > 1 ? absl::StrCat(", shard ", b.shard_index, "/",
                                                 b.shard_count)
                                  : "")
            << (b.resume ? ", resuming" : "") << "\n";
  auto summary = nio::client::RunBatch(b, engine->get());
  if (!summary.ok()) return Fail(summary.status());
  const auto& s = *summary;
  const int64_t processed = s.succeeded + s.failed;
  std::printf(
      "Batch summary: %lld tracks: %lld improved, %lld no improving change "
      "found, %lld failed, %lld bad rows skipped, %lld duplicates skipped; "
      "%lld already done%s, %lld left to other shards\n  %.1f s, %.1f "
      "tracks/s; mean popularity change %+.2f, best %+.2f\n"
      "  results: %s\n",
      static_cast<long long>(processed + s.bad_rows + s.duplicates),
      static_cast<long long>(s.improved),
      static_cast<long long>(s.not_improved), static_cast<long long>(s.failed),
      static_cast<long long>(s.bad_rows), static_cast<long long>(s.duplicates),
      static_cast<long long>(s.already_done),
      s.retried > 0
          ? absl::StrCat(" (", s.retried, " failed before, retried)").c_str()
          : "",
      static_cast<long long>(s.other_shards), s.seconds,
      // Failed tracks come back at once: only results make the rate.
      s.seconds > 0 ? s.succeeded / s.seconds : 0.0, s.mean_delta, s.best_delta,
      b.output.c_str());
  if (!s.stopped.ok()) {
    std::fprintf(stderr, "nio: the job stopped early: %s [%s]\n%s",
                 std::string(s.stopped.message()).c_str(),
                 absl::StatusCodeToString(s.stopped.code()).c_str(),
                 nio::client::ResumeHint(b.output, argv).c_str());
    return ExitFor(s.stopped);
  }
  // A duplicate row is no failure: its key's result is in the output.
  return s.failed + s.bad_rows == 0 ? kOk : kPartial;
}

// The model the server at --server serves (the benches need its genres).
absl::StatusOr<nio::v1::ModelInfo> ServerModel(const Common& c) {
  auto session = Session::Remote(c.server, c.connect);
  if (!session.ok()) return session.status();
  return (*session)->GetModel();
}

// The steps a track on `optimizer` (unset: the model's) runs by default.
int DefaultSteps(const nio::v1::ModelInfo& info,
                 std::optional<nio::models::Optimizer> optimizer) {
  const auto& d = info.default_options();
  const auto model_optimizer = d.optimizer() == nio::v1::OPTIMIZER_LBFGS
                                   ? nio::models::Optimizer::kLbfgs
                                   : nio::models::Optimizer::kAdam;
  const auto o = optimizer.value_or(model_optimizer);
  if (o == model_optimizer) return d.steps();
  return o == nio::models::Optimizer::kLbfgs ? nio::models::kLbfgsDefaultSteps
                                             : nio::models::kAdamDefaultSteps;
}

int RunMixedBench(const Common& c, const nio::client::MixedLoadOptions& mixed,
                  const std::string& output) {
  auto info = ServerModel(c);
  if (!info.ok()) return Fail(info.status());
  nio::client::MixedLoadOptions o = mixed;
  o.server = c.server;
  o.connect = c.connect;
  if (o.steps == 0) o.steps = DefaultSteps(*info, o.optimizer);
  auto r = nio::client::RunMixedLoad(o, *info);
  if (!r.ok()) return Fail(r.status());
  auto latency = [](const nio::client::LatencySummary& l) {
    return nlohmann::json{{"calls", l.calls},   {"errors", l.errors},
                          {"p50_ms", l.p50_ms}, {"p90_ms", l.p90_ms},
                          {"p99_ms", l.p99_ms}, {"max_ms", l.max_ms}};
  };
  const double ratio =
      r->catalog_alone_tracks_per_s > 0
          ? r->catalog_mixed_tracks_per_s / r->catalog_alone_tracks_per_s
          : 0;
  nlohmann::json j = {
      {"server", c.server},
      {"backend", info->backend()},
      {"mode", "mixed"},
      {"streams", o.streams},
      {"tracks_per_message", o.tracks_per_message},
      {"interactive_rate", o.interactive_rate},
      {"steps", o.steps},
      {"seconds_per_phase", o.seconds},
      {"one_track_idle", latency(r->idle)},
      {"catalog_alone_tracks_per_s", r->catalog_alone_tracks_per_s},
      {"catalog_mixed_tracks_per_s", r->catalog_mixed_tracks_per_s},
      {"catalog_mixed_over_alone", ratio},
      {"one_track_mixed", latency(r->mixed)},
      {"stream_errors", r->stream_errors}};
  if (output == "json") {
    std::cout << j.dump() << "\n";
  } else {
    auto line = [](const char* what, const nio::client::LatencySummary& l) {
      std::printf(
          "%-34s p50 %7.1f ms  p90 %7.1f ms  p99 %7.1f ms  max %7.1f ms  (%lld "
          "calls, %lld errors)\n",
          what, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms,
          static_cast<long long>(l.calls), static_cast<long long>(l.errors));
    };
    std::printf("server %s, %s; %d steps a track, %.0f s a phase\n",
                c.server.c_str(), info->backend().c_str(), o.steps, o.seconds);
    line("one-track calls, idle server", r->idle);
    std::printf("%-34s %.1f tracks/s (%d streams x %d tracks a message)\n",
                "catalog streams alone", r->catalog_alone_tracks_per_s,
                o.streams, o.tracks_per_message);
    std::printf("%-34s %.1f tracks/s (%.2f of alone)\n",
                "catalog streams + one-track calls",
                r->catalog_mixed_tracks_per_s, ratio);
    line("one-track calls under catalog load", r->mixed);
    if (r->stream_errors > 0) {
      std::printf("%lld stream tracks failed\n",
                  static_cast<long long>(r->stream_errors));
    }
  }
  return r->idle.errors + r->mixed.errors + r->stream_errors == 0 ? kOk
                                                                  : kPartial;
}

int RunBench(const Common& c, const nio::client::LoadOptions& load,
             const std::string& output) {
  auto info = ServerModel(c);
  if (!info.ok()) return Fail(info.status());
  nio::client::LoadOptions o = load;
  o.server = c.server;
  o.connect = c.connect;
  if (o.steps == 0) o.steps = DefaultSteps(*info, o.optimizer);
  auto r = nio::client::RunLoad(o, *info);
  if (!r.ok()) return Fail(r.status());
  nlohmann::json j = {
      {"server", c.server},
      {"backend", info->backend()},
      {"mode", o.stream ? "stream" : "unary"},
      {"concurrency", o.concurrency},
      {"tracks_per_request", o.tracks_per_request},
      {"steps", o.steps},
      {"optimizer",
       o.optimizer ? nio::models::OptimizerName(*o.optimizer) : "default"},
      {"seconds", r->seconds},
      {"requests", r->requests},
      {"tracks", r->tracks},
      {"errors", r->errors},
      {"tracks_per_s", r->tracks_per_s},
      {"latency_ms_p50", r->latency_ms_p50},
      {"latency_ms_p90", r->latency_ms_p90},
      {"latency_ms_p99", r->latency_ms_p99}};
  if (output == "json") {
    std::cout << j.dump() << "\n";
  } else {
    std::printf(
        "%lld tracks (%d per %s, %d steps) from %d clients in %.1f s: %.1f "
        "tracks/s, %lld errors\n",
        static_cast<long long>(r->tracks), o.tracks_per_request,
        o.stream ? "message" : "request", o.steps, o.concurrency, r->seconds,
        r->tracks_per_s, static_cast<long long>(r->errors));
    if (!o.stream) {
      std::printf(
          "latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms over %lld requests\n",
          r->latency_ms_p50, r->latency_ms_p90, r->latency_ms_p99,
          static_cast<long long>(r->requests));
    }
  }
  return r->errors == 0 ? kOk : kPartial;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "nio: Neural Input Optimization client. Asks a model how a track's audio "
      "features\n"
      "should change for it to be predicted more popular.\n" +
      std::string(kExitCodes)};
  app.require_subcommand(1);
  app.set_version_flag("--version", nio::service::VersionLine("nio"));
  // Every --help shows each option's default (subcommands inherit this).
  app.option_defaults()->always_capture_default();
  Common common;
  std::string format = "human";
  std::string legacy_output;  // --output human|json, before --format
  auto add_format = [&](CLI::App* cmd) {
    CLI::Option* f = cmd->add_option("--format", format, "human or json")
                         ->check(CLI::IsMember({"human", "json"}));
    cmd->add_option("--output", legacy_output,
                    "deprecated spelling of --format (one more release)")
        ->default_str("")
        ->excludes(f);
  };

  CLI::App* info = app.add_subcommand("info",
                                      "the model: features with ranges and "
                                      "descriptions, genres, presets, backend");
  AddCommon(info, &common);
  add_format(info);

  CLI::App* health = app.add_subcommand(
      "health",
      "whether the server is SERVING (exit 0), by gRPC's health protocol: "
      "a container health check or Kubernetes exec probe");
  health->add_option("--server", common.server,
                     "server: host:port or a gRPC target (dns:///name:port, "
                     "ipv4:A:p,B:q; see --lb) (default $NIO_SERVER or "
                     "127.0.0.1:50051)");
  AddConnectFlags(health, &common);
  std::string health_service;
  health->add_option("--service", health_service,
                     "one service's health (nio.v1.Nio) instead of the "
                     "whole server's");
  double health_timeout_s = 5;
  health
      ->add_option("--timeout_s,--timeout-s", health_timeout_s,
                   "seconds to wait for the answer, connecting included")
      ->check(CLI::PositiveNumber);
  add_format(health);

  TrackInput track_input;
  CLI::App* predict = app.add_subcommand(
      "predict", "the model's popularity prediction for a track");
  AddCommon(predict, &common);
  AddTrackInput(predict, &track_input);
  add_format(predict);

  OptionFlags option_flags;
  CLI::App* optimize =
      app.add_subcommand("optimize",
                         "optimize one track (or a JSON file of tracks) and "
                         "show how it should change");
  AddCommon(optimize, &common);
  AddTrackInput(optimize, &track_input);
  AddOptionFlags(optimize, &option_flags);
  add_format(optimize);
  bool show_best = false;
  optimize->add_flag(Names("--show-best"), show_best,
                     "when no improving change is found, still show the best "
                     "feasible point the optimizer reached (not a suggestion)");

  nio::client::BatchOptions batch_options;
  std::string shard, progress = "auto";
  nio::client::StreamOptions stream;
  stream.streams = 0;  // 0: by --lb (StreamDefaults)
  CLI::App* batch =
      app.add_subcommand("batch",
                         "optimize a whole catalog CSV (Spotify tracks "
                         "layout), streaming results to a file");
  AddCommon(batch, &common);
  AddOptionFlags(batch, &option_flags);
  batch
      ->add_option(
          "--input", batch_options.input,
          "catalog CSV (header with track_id, features..., track_genre)")
      ->required();
  batch
      ->add_option("--output", batch_options.output,
                   "results file, .csv or .jsonl")
      ->required();
  batch->add_flag("--resume", batch_options.resume,
                  "continue an interrupted job: keep the results in --output, "
                  "retry the tracks that failed, run the rest (same options "
                  "required)");
  batch->add_flag("--overwrite", batch_options.overwrite,
                  "replace an existing --output");
  std::string fill_missing = "error";
  batch
      ->add_option(Names("--fill-missing"), fill_missing,
                   "a missing feature column or empty cell: error (a bad "
                   "row), or mean (the model's default, recorded in the "
                   "output's manifest)")
      ->check(CLI::IsMember({"error", "mean"}))
      ->capture_default_str();
  batch->add_option(Names("--key-column"), batch_options.key_column,
                    "the column whose value identifies a row (one result "
                    "each, a repeat is a duplicate), e.g. track_id (default: "
                    "the pair track_id, track_genre)");
  batch
      ->add_option("--shard", shard,
                   "I/N: take the rows whose key hashes to I of N (parallel "
                   "jobs; every key lands in exactly one shard)")
      ->check(CLI::Validator(
          [](std::string& text) {
            int index = 0, count = 0;
            absl::Status s = nio::client::ParseShard(text, &index, &count);
            return s.ok() ? std::string() : std::string(s.message());
          },
          "I/N"));
  batch->add_option("--window", stream.window, "tracks in flight at most")
      ->check(CLI::PositiveNumber);
  batch
      ->add_option("--streams", stream.streams,
                   "server streams at once; with --lb round_robin each lands "
                   "on the next server (default 4 with round_robin, else 1)")
      ->check(CLI::PositiveNumber)
      ->default_str("auto");
  batch
      ->add_option(Names("--stream_tracks"), stream.tracks_per_stream,
                   "tracks one stream carries before a new one takes over, "
                   "so servers that come up during the job get work (default "
                   "4 x --window with round_robin, else no limit)")
      ->check(CLI::PositiveNumber)
      ->default_str("auto");
  batch
      ->add_option("--progress", progress,
                   "auto (bar on a terminal), bar, plain or none")
      ->check(CLI::IsMember({"auto", "bar", "plain", "none"}));

  nio::client::LoadOptions load;
  CLI::App* bench =
      app.add_subcommand("bench",
                         "load generator: concurrent Optimize calls, "
                         "throughput and latency percentiles");
  bench->add_option("--server", common.server,
                    "server address (default $NIO_SERVER or 127.0.0.1:50051)");
  AddConnectFlags(bench, &common);
  bench->add_option("--concurrency", load.concurrency, "parallel clients")
      ->check(CLI::PositiveNumber);
  bench
      ->add_option("--tracks", load.tracks_per_request,
                   "tracks per request (or stream message)")
      ->check(CLI::PositiveNumber);
  bench->add_option("--duration", load.seconds, "seconds to send for")
      ->check(CLI::PositiveNumber);
  load.steps = 0;
  bench
      ->add_option("--steps", load.steps,
                   "NIO steps per track (default: the optimizer's, `nio info`)")
      ->check(CLI::PositiveNumber)
      ->default_str("");
  std::string bench_optimizer;
  bench
      ->add_option("--optimizer", bench_optimizer,
                   "adam or lbfgs (default: the model's)")
      ->check(CLI::IsMember({"adam", "lbfgs"}));
  std::string bench_mode;
  bench
      ->add_option("--mode", bench_mode,
                   "projected or reference (default: the model's)")
      ->check(CLI::IsMember({"reference", "projected"}));
  int bench_starts = 0;
  bench
      ->add_option("--starts", bench_starts,
                   "starts per track (default: the optimizer's)")
      ->check(CLI::Range(1, nio::models::kMaxStarts))
      ->default_str("");
  bench->add_flag(
      "--stream", load.stream,
      "each client streams through OptimizeStream (throughput only)");
  bool mixed = false;
  double interactive_rate = 5, warmup = 5;
  CLI::Option* mixed_flag =
      bench->add_flag("--mixed", mixed,
                      "mixed load in one run: one-track calls at "
                      "--interactive-rate on an idle server, "
                      "then --concurrency catalog streams alone, then both "
                      "(see bench/README.md)");
  bench
      ->add_option(Names("--interactive-rate"), interactive_rate,
                   "--mixed: one-track calls per second")
      ->check(CLI::PositiveNumber)
      ->needs(mixed_flag);
  bench
      ->add_option("--warmup", warmup,
                   "--mixed: seconds the streams run before measuring")
      ->check(CLI::NonNegativeNumber)
      ->needs(mixed_flag);
  add_format(bench);

  for (CLI::App* sub : {info, predict, optimize, batch, bench})
    sub->footer(std::string(kExitCodes) + "\n");
  health->footer(
      "Exit codes: 0 SERVING; 1 usage error; 3 no answer within --timeout_s; "
      "4 any other answer (NOT_SERVING: a broken backend or a drain), or no "
      "such --service.\n");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  // A malformed address is refused at once (not after the connect wait),
  // whether it came from --server or $NIO_SERVER.
  if (!common.local) {
    if (absl::Status s = nio::client::CheckServerAddress(common.server);
        !s.ok()) {
      return Usage(s);
    }
    if (absl::Status s = ResolveToken(&common); !s.ok()) return Usage(s);
  }
  if (!legacy_output.empty()) {
    if (legacy_output != "human" && legacy_output != "json") {
      std::cerr << "nio: --output " << legacy_output
                << ": a file is an output of `nio batch` only; here "
                   "--format human|json chooses the format\n";
      return kUsage;
    }
    std::cerr << "nio: --output " << legacy_output
              << " is deprecated: use --format " << legacy_output << "\n";
    format = legacy_output;
  }
  if (*health)
    return RunHealth(common, health_service, health_timeout_s, format);
  if (*info) return RunInfo(common, format);
  if (*predict) return RunPredict(common, track_input, format);
  if (*optimize)
    return RunOptimize(common, track_input, option_flags, format, show_best);
  if (*batch) {
    batch_options.fill_missing_mean = fill_missing == "mean";
    return RunBatch(common, batch_options, option_flags, shard, stream,
                    progress, std::vector<std::string>(argv, argv + argc));
  }
  if (*bench) {
    if (!bench_optimizer.empty())
      load.optimizer = *nio::models::ParseOptimizer(bench_optimizer);
    if (bench_starts > 0) load.starts = bench_starts;
    if (!bench_mode.empty()) load.mode = *nio::models::ParseNioMode(bench_mode);
  }
  if (*bench && mixed) {
    nio::client::MixedLoadOptions m;
    m.streams = load.concurrency;
    m.tracks_per_message = load.tracks_per_request;
    m.interactive_rate = interactive_rate;
    m.seconds = load.seconds;
    m.warmup_seconds = warmup;
    m.steps = load.steps;
    m.optimizer = load.optimizer;
    m.starts = load.starts;
    m.mode = load.mode;
    return RunMixedBench(common, m, format);
  }
  if (*bench) return RunBench(common, load, format);
  return kUsage;
}
