#include "service/http_gateway.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "service/http_errors.h"
#include "service/http_json_api.h"
#include "service/web_assets.h"

namespace nio::service {
namespace {

constexpr char kJson[] = "application/json";

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool IsLoopback(const std::string& address) {
  return absl::StartsWith(address, "127.") || address == "::1" ||
         absl::StartsWith(address, "::ffff:127.");
}

// Whether this request may read /metrics (HttpOptions::metrics_access).
absl::Status MetricsAllowed(const httplib::Request& req,
                            HttpOptions::MetricsAccess access,
                            const TokenTable* tokens) {
  using Access = HttpOptions::MetricsAccess;
  if (access == Access::kOpen) return absl::OkStatus();
  if (access == Access::kLoopback) {
    if (IsLoopback(req.remote_addr)) return absl::OkStatus();
    return absl::PermissionDeniedError(
        "/metrics: open to loopback clients only (--metrics_access "
        "loopback)");
  }
  if (tokens == nullptr) return absl::OkStatus();
  const std::string header = req.get_header_value("Authorization");
  const std::optional<std::string_view> token = BearerToken(header);
  if (token && tokens->Find(*token) != nullptr) return absl::OkStatus();
  return absl::UnauthenticatedError(
      "/metrics: needs 'Authorization: Bearer TOKEN' (--metrics_access "
      "token)");
}

}  // namespace

absl::StatusOr<std::pair<std::string, int>> ParseHttpListen(
    const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos && colon + 1 < listen.size() &&
      listen.size() - colon - 1 <= 5 &&
      listen.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
    port = std::stoi(listen.substr(colon + 1));
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_listen: '", listen,
                     "' is not host:port (e.g. 127.0.0.1:8080; port 0 = any)"));
  }
  return std::make_pair(listen.substr(0, colon), port);
}

absl::StatusOr<HttpOptions::MetricsAccess> ParseMetricsAccess(
    const std::string& text) {
  if (text == "token") return HttpOptions::MetricsAccess::kToken;
  if (text == "loopback") return HttpOptions::MetricsAccess::kLoopback;
  if (text == "open") return HttpOptions::MetricsAccess::kOpen;
  return absl::InvalidArgumentError(absl::StrCat(
      "--metrics_access: '", text, "': expected token, loopback or open"));
}

HttpGateway::HttpGateway(const HttpOptions& options, Sources sources)
    : options_(options), sources_(std::move(sources)) {}

absl::StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(
    const HttpOptions& options, Sources sources) {
  std::unique_ptr<HttpGateway> g(new HttpGateway(options, std::move(sources)));
  if (options.cert_file.empty()) {
    g->server_ = std::make_unique<httplib::Server>();
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(
        options.cert_file.c_str(), options.key_file.c_str(),
        options.client_ca_file.empty() ? nullptr
                                       : options.client_ca_file.c_str());
    if (!tls->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls_cert/--tls_key: the HTTP port cannot load ", options.cert_file,
          " and ", options.key_file,
          options.client_ca_file.empty()
              ? std::string()
              : absl::StrCat(" or --tls_client_ca ", options.client_ca_file),
          " (PEM files; the key must match the certificate)"));
    }
    g->server_ = std::move(tls);
  }
  auto host_port = ParseHttpListen(options.listen);
  if (!host_port.ok()) return host_port.status();
  const int port = host_port->second;
  g->host_ = host_port->first;
  // "[::1]" in the address, "::1" to the socket.
  std::string bind_host = g->host_;
  if (bind_host.size() > 2 && bind_host.front() == '[')
    bind_host = bind_host.substr(1, bind_host.size() - 2);
  const int threads = options.threads;
  g->server_->new_task_queue = [threads] {
    return new httplib::ThreadPool(threads);
  };
  // httplib's default sets SO_REUSEPORT: a second server on a busy port
  // would start and silently split the traffic with the first.
  g->server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Answers go out as headers then body: without TCP_NODELAY, Nagle and
  // delayed ACKs hold the body ~40 ms on a reused connection.
  g->server_->set_tcp_nodelay(true);
  // httplib closes a connection after 5 requests by default.
  g->server_->set_keep_alive_max_count(1000);
  g->server_->set_payload_max_length(options.max_body_bytes);
  g->server_->set_read_timeout(options.read_timeout_s, 0);
  g->AddRoutes();
  if (port == 0) {
    g->port_ = g->server_->bind_to_any_port(bind_host);
  } else if (g->server_->bind_to_port(bind_host, port)) {
    g->port_ = port;
  }
  if (g->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for HTTP on ", options.listen,
                     ": address in use or not available"));
  }
  httplib::Server* server = g->server_.get();
  g->thread_ = std::thread([server] { server->listen_after_bind(); });
  return g;
}

HttpGateway::~HttpGateway() { Stop(); }

std::string HttpGateway::url() const {
  return absl::StrCat(options_.cert_file.empty() ? "http://" : "https://",
                      host_, ":", port_);
}

void HttpGateway::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

void HttpGateway::AddRoutes() {
  httplib::Server& s = *server_;
  CallMetrics* metrics = sources_.call_metrics;
  auto record = [metrics](const char* route, int status,
                          Clock::time_point start) {
    if (metrics != nullptr)
      metrics->RecordHttp(route, status, SecondsSince(start));
  };
  // Every route answers through this: timed and counted under its pattern.
  auto timed = [record](const char* route, auto handler) {
    return [record, route, handler](const httplib::Request& req,
                                    httplib::Response& res) {
      const Clock::time_point start = Clock::now();
      handler(req, res);
      if (res.status == -1) res.status = 200;  // httplib's default
      record(route, res.status, start);
    };
  };
  // API calls: refused while draining, and beyond the threads they may
  // hold (the rest answer health and metrics).
  const int api_limit =
      std::max(1, options_.threads - HttpOptions::kReservedThreads);
  auto draining = sources_.draining;
  std::atomic<int>* in_flight = &api_in_flight_;
  auto admitted = [draining, in_flight, api_limit](httplib::Response& res) {
    if (draining && draining()) {
      res.status = 503;
      res.set_content(ErrorJson(absl::StatusCode::kUnavailable,
                                "the server is shutting down: retry on "
                                "another replica"),
                      kJson);
      return false;
    }
    if (in_flight->fetch_add(1) >= api_limit) {
      in_flight->fetch_sub(1);
      res.status = 429;
      res.set_content(
          ErrorJson(absl::StatusCode::kResourceExhausted,
                    absl::StrCat("the HTTP port has ", api_limit,
                                 " API calls in flight (--http_threads less ",
                                 HttpOptions::kReservedThreads,
                                 " kept for health and metrics); retry later")),
          kJson);
      return false;
    }
    return true;
  };
  auto api_call = [timed, admitted, in_flight](const char* route,
                                               auto handler) {
    return timed(route,
                 [admitted, in_flight, handler](const httplib::Request& req,
                                                httplib::Response& res) {
                   if (!admitted(res)) return;
                   handler(req, res);
                   in_flight->fetch_sub(1);
                 });
  };
  auto api = std::make_shared<HttpJsonApi>(
      sources_.channel, sources_.gateway_secret, options_.default_timeout_s);

  s.Get("/v1/model", api_call("/v1/model", [api](const auto& req, auto& res) {
          api->GetModel(req, res);
        }));
  s.Post("/v1/predict",
         api_call("/v1/predict", [api](const auto& req, auto& res) {
           api->Predict(req, res);
         }));
  s.Post("/v1/optimize",
         api_call("/v1/optimize", [api](const auto& req, auto& res) {
           api->Optimize(req, res);
         }));
  // A stream is counted, and frees its place, when its response ends, not
  // when its handler returns.
  s.Post("/v1/optimize/stream", [api, record, admitted, in_flight](
                                    const httplib::Request& req,
                                    httplib::Response& res) {
    const Clock::time_point start = Clock::now();
    if (!admitted(res)) {
      record("/v1/optimize/stream", res.status, start);
      return;
    }
    api->OptimizeStream(req, res, [record, start, in_flight](int status) {
      in_flight->fetch_sub(1);
      record("/v1/optimize/stream", status, start);
    });
  });
  // The wrong method on a known route: 405 with the one it takes.
  auto wrong_method = [record](const char* route, const char* allow) {
    return [record, route, allow](const httplib::Request& req,
                                  httplib::Response& res) {
      res.status = 405;
      res.set_header("Allow", allow);
      res.set_content(
          ErrorJson(absl::StatusCode::kUnimplemented,
                    absl::StrCat(req.method, " ", route, ": use ", allow)),
          kJson);
      record(route, 405, Clock::now());
    };
  };
  for (const char* route :
       {"/v1/predict", "/v1/optimize", "/v1/optimize/stream"}) {
    s.Get(route, wrong_method(route, "POST"));
    s.Put(route, wrong_method(route, "POST"));
    s.Delete(route, wrong_method(route, "POST"));
  }
  for (const char* route : {"/v1/model", "/healthz", "/readyz", "/metrics"}) {
    s.Post(route, wrong_method(route, "GET"));
    s.Put(route, wrong_method(route, "GET"));
    s.Delete(route, wrong_method(route, "GET"));
  }

  s.Get("/healthz", timed("/healthz", [](const auto&, auto& res) {
          res.set_content(R"({"status":"ok"})", kJson);
        }));
  auto ready = sources_.ready;
  s.Get("/readyz", timed("/readyz", [ready](const auto&, auto& res) {
          const bool ok = ready && ready();
          res.status = ok ? 200 : 503;
          res.set_content(
              ok ? R"({"status":"SERVING"})" : R"({"status":"NOT_SERVING"})",
              kJson);
        }));
  auto page = sources_.metrics;
  const HttpOptions::MetricsAccess access = options_.metrics_access;
  const TokenTable* tokens = sources_.tokens;
  s.Get("/metrics",
        timed("/metrics", [page, access, tokens](const auto& req, auto& res) {
          if (absl::Status s = MetricsAllowed(req, access, tokens); !s.ok()) {
            res.status = HttpStatusFor(s.code());
            if (s.code() == absl::StatusCode::kUnauthenticated)
              res.set_header("WWW-Authenticate", "Bearer");
            res.set_content(ErrorJson(s.code(), std::string(s.message())),
                            kJson);
            return;
          }
          res.set_content(page ? page() : std::string(),
                          "text/plain; version=0.0.4; charset=utf-8");
        }));

  for (const WebAsset& asset : WebAssets()) {
    auto serve = [asset](const httplib::Request&, httplib::Response& res) {
      res.set_content(asset.body.data(), asset.body.size(),
                      std::string(asset.content_type).c_str());
      res.set_header("Cache-Control", "no-cache");
    };
    const std::string path(asset.path);
    if (path == "/index.html") s.Get("/", timed("/", serve));
    s.Get(path, timed("/", serve));
  }

  // What no route answered (404, 405), or httplib refused before routing
  // (413 over the body limit, 400 unreadable): a JSON error like the API's.
  // Answers the routes wrote themselves keep their own body.
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [record](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        const absl::StatusCode code = StatusCodeForHttp(res.status);
        std::string message;
        if (res.status == 404) {
          message =
              absl::StrCat("no such route: ", req.method, " ", req.path,
                           " (see GET /v1/model, POST /v1/optimize, ...)");
        } else if (res.status == 413 &&
                   absl::StartsWith(req.get_header_value("Content-Type"),
                                    "application/x-www-form-urlencoded")) {
          // httplib caps form bodies at 8 KiB whatever the body limit;
          // curl -d sends JSON as a form unless told otherwise.
          message =
              "request body: over 8 KiB sent as "
              "application/x-www-form-urlencoded (curl -d's default): send "
              "it with Content-Type: application/json";
        } else if (res.status == 413) {
          message =
              "request body: larger than the server's --http_max_body_bytes";
        } else if (res.status == 400) {
          message =
              "the request could not be read (a POST needs a JSON body, with "
              "Content-Length or chunked)";
        } else {
          message = absl::StrCat("HTTP ", res.status);
        }
        res.set_content(ErrorJson(code, message), kJson);
        record("other", res.status, Clock::now());
        return httplib::Server::HandlerResponse::Handled;
      }));
}

}  // namespace nio::service
