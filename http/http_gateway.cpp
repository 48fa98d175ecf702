#include "http/http_gateway.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "http/actor_bridge.hpp"
#include "http/cluster_readiness.hpp"
#include "http/dashboard_assets.hpp"
#include "http/json_mapping.hpp"
#include "http/logging.hpp"
#include "http/node_calls.hpp"
#include "http/node_metrics.hpp"
#include "http/openapi.hpp"
#include "http/request_mapping.hpp"
#include "http/route_table.hpp"
#include "proto/wire.hpp"
#include "runtime/httplib.hpp"
#include "runtime/ids.hpp"
#include "runtime/principal.hpp"

namespace nca::http {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kJson = "application/json";
// An open connection holds a worker thread (cpp-httplib), so idle keep-alive connections must not
// starve other clients for long; 2 s still keeps the connections of busy clients (benchmarks, the
// dashboard's refreshes) alive.
constexpr time_t kKeepAliveSeconds = 2;
// A readiness probe must answer quickly even when the node does not.
constexpr auto kReadyPingTimeout = std::chrono::seconds(1);

void send_error(httplib::Response& res, int status, std::string_view code, std::string_view message,
                std::map<std::string, std::string> details = {}) {
  res.status = status;
  if (status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"neuroca\"");
  res.set_content(error_body(code, message, details), kJson);
}

void send_error(httplib::Response& res, const Error& e) {
  send_error(res, http_status_of(e.code), code_name(e.code), e.message);
}

// The credential of "Authorization: Bearer <token>"; empty when the header is absent.
Result<std::string> bearer_token(const httplib::Request& req) {
  if (!req.has_header("Authorization")) return std::string();
  std::string value = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() || value.compare(0, kScheme.size(), kScheme) != 0) {
    return make_error(ErrorCode::unauthenticated,
                      "the Authorization header must be 'Bearer <API key or JWT>'");
  }
  return value.substr(kScheme.size());
}

// The query of the request target, parsed here rather than taken from Request::params, which
// cpp-httplib also fills from form-encoded bodies (curl -d sends JSON with that content type).
QueryParams query_of(const httplib::Request& req) {
  QueryParams out;
  auto q = req.target.find('?');
  if (q == std::string::npos) return out;
  httplib::Params params;
  httplib::detail::parse_query_text(req.target.substr(q + 1), params);
  for (auto& [k, v] : params) out.emplace(k, v);
  return out;
}

// X-Timeout-Ms: a positive integer of milliseconds.
Result<std::optional<TimeUs>> header_timeout(const httplib::Request& req) {
  if (!req.has_header("X-Timeout-Ms")) return std::optional<TimeUs>();
  std::string v = req.get_header_value("X-Timeout-Ms");
  if (v.empty() || v.size() > 12 ||
      !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) != 0; }) ||
      std::stoll(v) == 0) {
    return make_error(ErrorCode::invalid_argument,
                      "X-Timeout-Ms must be a positive number of milliseconds, not '" + v + "'");
  }
  return std::optional<TimeUs>(std::stoll(v) * 1000);
}

std::string allowed_list(const std::vector<std::string>& methods) {
  std::string out;
  for (const auto& m : methods) out += (out.empty() ? "" : ", ") + m;
  return out;
}

}  // namespace

HttpGateway::HttpGateway(const config::Settings& settings, actors::Node& node)
    : settings_(settings), node_(node) {}

Result<std::unique_ptr<HttpGateway>> HttpGateway::start(const config::Settings& settings,
                                                        actors::Node& node,
                                                        GatewayOptions options) {
  auto listen = actors::parse_host_port(settings.http.listen, "http.listen");
  if (!listen) return listen.error();
  std::unique_ptr<HttpGateway> gw(new HttpGateway(settings, node));
  gw->host_ = listen->first.empty() ? "0.0.0.0" : listen->first;
  gw->bridge_ = std::make_unique<ActorBridge>(node.system());
  gw->calls_ = std::make_unique<NodeCalls>(node, *gw->bridge_, std::move(options.api));
  gw->server_ = std::make_unique<httplib::Server>();
  auto& server = *gw->server_;
  const size_t threads = static_cast<size_t>(std::max<int64_t>(1, settings.http.threads));
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(static_cast<size_t>(settings.http.max_body));
  auto timeout = std::chrono::microseconds(std::max<TimeUs>(settings.http.timeout, 1000));
  server.set_read_timeout(timeout);
  server.set_write_timeout(timeout);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.set_tcp_nodelay(true);
  HttpGateway* self = gw.get();
  auto handler = [self](const httplib::Request& req, httplib::Response& res) {
    self->handle(req, res);
  };
  server.Get(".*", handler);
  server.Post(".*", handler);
  server.Put(".*", handler);
  server.Patch(".*", handler);
  server.Delete(".*", handler);
  server.Options(".*", handler);
  server.set_error_handler(httplib::Server::HandlerWithResponse(
      [self](const httplib::Request& req, httplib::Response& res) {
        return self->handle_transport_error(req, res) ? httplib::Server::HandlerResponse::Handled
                                                      : httplib::Server::HandlerResponse::Unhandled;
      }));
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        // handle() catches its own exceptions; this is cpp-httplib's, and never shows a trace.
        send_error(res, 500, "INTERNAL", "internal error while reading the request");
      });

  errno = 0;
  int port = listen->second == 0 ? server.bind_to_any_port(gw->host_)
                                 : (server.bind_to_port(gw->host_, listen->second)
                                        ? static_cast<int>(listen->second)
                                        : -1);
  if (port <= 0) {
    std::string why = errno != 0 ? std::strerror(errno) : "bind failed";
    return make_error(ErrorCode::unavailable, "cannot listen on http.listen " +
                                                  settings.http.listen + ": " + why +
                                                  " (another process on that port? use "
                                                  "--http.listen HOST:PORT or port 0)");
  }
  gw->port_ = static_cast<uint16_t>(port);
  gw->listener_ = std::thread([self] { self->server_->listen_after_bind(); });
  // stop() is a no-op until the accept loop runs (cpp-httplib checks is_running), so start()
  // returns only once it does; the loop starts within microseconds.
  auto until = Clock::now() + std::chrono::seconds(5);
  while (!server.is_running() && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!server.is_running()) {
    gw->stop(std::chrono::milliseconds(0));
    return make_error(ErrorCode::unavailable,
                      "the HTTP server did not start on " + settings.http.listen);
  }
  spdlog::info("http gateway serving on {} ({} threads, max body {} bytes)", gw->address(), threads,
               settings.http.max_body);
  return gw;
}

HttpGateway::~HttpGateway() {
  stop(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::microseconds(settings_.http.timeout)));
}

std::string HttpGateway::address() const {
  std::string host = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  return host + ":" + std::to_string(port_);
}

void HttpGateway::stop(std::chrono::milliseconds drain) {
  if (stopped_) return;
  stopped_ = true;
  if (bridge_) bridge_->drain_until(Clock::now() + drain);
  if (server_ && listener_.joinable()) {
    server_->stop();
    listener_.join();  // cpp-httplib joins its workers: every request in flight has its reply
  }
  calls_.reset();
  bridge_.reset();
  server_.reset();
}

void HttpGateway::handle(const httplib::Request& req, httplib::Response& res) {
  const auto started = Clock::now();
  in_flight_++;
  res.status = 200;
  std::string request_id = req.get_header_value("X-Request-Id");
  bool bad_id = false;
  if (request_id.empty()) {
    request_id = node_.context().ids->uuid_v7();
  } else if (!validate_id(request_id, "X-Request-Id")) {
    bad_id = true;
    request_id = node_.context().ids->uuid_v7();
  }
  RequestLogScope scope(request_id);
  res.set_header("X-Request-Id", request_id);
  std::string route = "unmatched";
  try {
    auto match = match_route(req.method, req.path);
    if (match.kind != RouteMatch::Kind::no_route) route = match.template_path;
    if (bad_id) {
      send_error(res, 400, "INVALID_ARGUMENT",
                 "X-Request-Id must be 1-128 characters of [A-Za-z0-9._:@-]");
    } else if (match.kind == RouteMatch::Kind::no_route) {
      send_error(res, 404, "NOT_FOUND",
                 "no route " + req.method + " " + req.path + "; see /v1/openapi.json");
    } else if (match.kind == RouteMatch::Kind::wrong_method) {
      res.set_header("Allow", allowed_list(match.allowed));
      send_error(res, 405, "METHOD_NOT_ALLOWED",
                 req.method + " is not allowed on " + match.template_path +
                     " (allowed: " + allowed_list(match.allowed) + ")",
                 {{"allow", allowed_list(match.allowed)}});
    } else if (bridge_->draining() && match.route->op != Op::health) {
      res.set_header("Connection", "close");
      send_error(res, 503, "UNAVAILABLE", "the node is shutting down; retry on another node");
    } else {
      dispatch(req, match, request_id, res);
    }
  } catch (const std::exception& e) {
    spdlog::error("http {} {}: internal error: {}", req.method, req.path, e.what());
    res.headers.erase("Content-Type");
    send_error(res, 500, "INTERNAL",
               "internal error; the node's log has it under request id " + request_id);
  }
  finish(req, route, res, started);
  in_flight_--;
}

void HttpGateway::dispatch(const httplib::Request& req, const RouteMatch& match,
                           const std::string& request_id, httplib::Response& res) {
  const Route& route = *match.route;
  HttpInput in;
  in.route = &route;
  in.params = match.params;
  in.query = query_of(req);
  in.body = req.body;
  if (auto s = check_query(route, in.query); !s) return send_error(res, s.error());
  auto header_ms = header_timeout(req);
  if (!header_ms) return send_error(res, header_ms.error());
  TimeUs timeout = settings_.http.timeout;
  auto token = bearer_token(req);
  if (!token) return send_error(res, token.error());

  if (!is_api_op(route.op)) {
    if (header_ms->has_value()) timeout = std::min(timeout, **header_ms);
    const auto deadline = Clock::now() + std::chrono::microseconds(timeout);
    if (route.op == Op::metrics || route.op == Op::event_stats || route.op == Op::cluster) {
      // Node-wide views: their counts cover every tenant.
      if (auto s = require_admin(*token); !s) return send_error(res, s.error());
    }
    switch (route.op) {
      case Op::health:
        return res.set_content(R"({"status":"ok"})", kJson);
      case Op::ready:
        return serve_ready(deadline, res);
      case Op::metrics:
        return serve_metrics(deadline, res);
      case Op::openapi:
        return res.set_content(openapi_document(), kJson);
      case Op::event_stats:
        return serve_event_stats(deadline, res);
      case Op::cluster:
        return serve_cluster(deadline, res);
      case Op::dashboard_index:
      case Op::dashboard_asset: {
        std::string path =
            route.op == Op::dashboard_index ? "/index.html" : "/" + match.params.at("asset");
        auto asset = find_asset(path);
        if (!asset) {
          return send_error(res, 404, "NOT_FOUND", "no dashboard file " + path);
        }
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_header("Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data:; style-src 'self' "
                       "'unsafe-inline'");
        return res.set_content(std::string(asset->body), asset->content_type);
      }
      default:
        return send_error(res, 500, "INTERNAL", "route without a handler");
    }
  }

  auto built = build_request(in);
  if (!built) return send_error(res, built.error());
  pb::Request& request = *built;
  if (request.has_next_event()) {
    // A long poll may be held for its whole wait (capped by events.max-wait) before the reply.
    TimeUs wait = std::min<TimeUs>(static_cast<TimeUs>(request.next_event().wait_ms()) * 1000,
                                   settings_.events.max_wait);
    timeout += wait;
  }
  if (header_ms->has_value()) timeout = std::min(timeout, **header_ms);
  auto* header = request.mutable_header();
  header->set_schema_version(wire::kSchemaVersion);
  header->set_request_id(request_id);
  // No tenant header: the credential's tenant (the node's default one without auth).
  header->set_tenant(req.get_header_value("X-Neuroca-Tenant"));
  header->set_auth_token(*token);
  header->set_deadline_us(node_.context().clock->now_us() + timeout);
  const auto deadline = Clock::now() + std::chrono::microseconds(timeout);

  pb::Response response = calls_->call(request, deadline);
  if (response.status().code() != pb::OK) {
    std::map<std::string, std::string> details(response.status().details().begin(),
                                               response.status().details().end());
    return send_error(res, http_status_of(response.status().code()),
                      code_name(response.status().code()), response.status().message(), details);
  }
  const auto* body = response_body(response);
  if (body == nullptr) {
    res.status = success_status(route.op, response);
    return res.set_content("{}", kJson);
  }
  auto json = to_json(*body);
  if (!json) return send_error(res, json.error());
  res.status = success_status(route.op, response);
  res.set_content(std::move(*json), kJson);
}

Status HttpGateway::require_admin(const std::string& token) {
  auto& ctx = node_.context();
  if (!ctx.auth || !ctx.auth->enabled()) return {};
  auto who = ctx.auth->authenticate(token);
  if (!who) {
    ctx.counters.refused_unauthenticated++;
    return who.error();
  }
  Status allowed = authorize_node_wide(*who);
  if (!allowed) ctx.counters.refused_permission++;
  return allowed;
}

void HttpGateway::serve_ready(Clock::time_point deadline, httplib::Response& res) {
  std::map<std::string, std::string> checks;
  bool ready = true;
  auto& ctx = node_.context();
  if (ctx.db) {
    checks["storage"] = "ok";
  } else {
    checks["storage"] = "closed";
    ready = false;
  }
  checks["events"] = ctx.router ? "ok" : "the event router is not running";
  ready = ready && ctx.router;
  pb::Request ping;
  ping.mutable_header()->set_schema_version(wire::kSchemaVersion);
  ping.mutable_ping();
  auto resp = calls_->call(ping, std::min(deadline, Clock::now() + kReadyPingTimeout),
                           NodeCalls::Caller::node);
  if (resp.status().code() == pb::OK) {
    checks["api"] = "ok";
  } else {
    checks["api"] = resp.status().message();
    ready = false;
  }
  // Joined: in the cluster map, with a metadata leader and a leader for each shard it replicates.
  pb::Request cluster;
  cluster.mutable_header()->set_schema_version(wire::kSchemaVersion);
  cluster.mutable_cluster_status();
  auto joined = calls_->call(cluster, std::min(deadline, Clock::now() + kReadyPingTimeout),
                             NodeCalls::Caller::node);
  if (joined.status().code() != pb::OK) {
    checks["cluster"] = joined.status().message();
  } else {
    checks["cluster"] = cluster_readiness(joined.cluster_status());
  }
  ready = ready && checks["cluster"] == "ok";
  if (bridge_->draining()) {
    checks["node"] = "shutting down";
    ready = false;
  }
  if (!ready) {
    std::string reasons;
    for (const auto& [k, v] : checks) {
      if (v != "ok") reasons += (reasons.empty() ? "" : "; ") + k + ": " + v;
    }
    return send_error(res, 503, "UNAVAILABLE", "not ready: " + reasons, checks);
  }
  nlohmann::json body;
  body["status"] = "ready";
  body["checks"] = checks;
  res.set_content(body.dump(), kJson);
}

void HttpGateway::serve_metrics(Clock::time_point deadline, httplib::Response& res) {
  NodeFigures figures = collect_node_figures(node_, *calls_, deadline);
  figures.http_in_flight = in_flight_.load();
  for (const auto& e : figures.errors) spdlog::warn("metrics: {}", e);
  auto families = metrics_.snapshot();
  auto node = node_families(figures);
  families.insert(families.end(), std::make_move_iterator(node.begin()),
                  std::make_move_iterator(node.end()));
  res.set_content(render_text(families), "text/plain; version=0.0.4; charset=utf-8");
}

void HttpGateway::serve_event_stats(Clock::time_point deadline, httplib::Response& res) {
  auto stats = calls_->event_stats(deadline);
  if (!stats) return send_error(res, stats.error());
  nlohmann::json body;
  body["counts"] = nlohmann::json::array();
  uint64_t retained = 0;
  if (*stats) {
    for (const auto& c : (*stats)->counts) {
      body["counts"].push_back(
          {{"tenant", c.tenant},
           {"state", pb::EventState_IsValid(c.state) ? pb::EventState_Name(c.state) : "?"},
           {"priority",
            pb::EventPriority_IsValid(c.priority) ? pb::EventPriority_Name(c.priority) : "?"},
           {"count", c.count}});
    }
    retained = (*stats)->acked_retained;
  }
  body["acked_retained"] = retained;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJson);
}

void HttpGateway::serve_cluster(Clock::time_point deadline, httplib::Response& res) {
  auto& ctx = node_.context();
  auto listen = actors::parse_host_port(settings_.node.listen, "node.listen");
  std::string host = listen ? listen->first : std::string();
  nlohmann::json self;
  self["id"] = ctx.node_id;
  self["incarnation"] = ctx.incarnation;
  self["address"] = host + ":" + std::to_string(node_.port());
  self["http_address"] = address();
  self["version"] = NCA_VERSION_STRING;
  self["state"] = bridge_->draining() ? "LEAVING" : "ALIVE";
  // The peers the node's transport knows (docs/cluster.md). Node numbers are 64-bit: strings, so
  // JavaScript does not round them.
  pb::Request status;
  status.mutable_cluster_status();
  status.mutable_header()->set_request_id(ctx.ids->uuid_v7());
  pb::Response reply = calls_->call(status, deadline, NodeCalls::Caller::node);
  nlohmann::json peers = nlohmann::json::array();
  nlohmann::json members = nlohmann::json::array();
  nlohmann::json shards = nlohmann::json::array();
  if (reply.status().code() == pb::OK) {
    for (const auto& sh : reply.cluster_status().shards()) {
      nlohmann::json replicas = nlohmann::json::array();
      for (uint64_t r : sh.replicas()) replicas.push_back(std::to_string(r));
      shards.push_back({{"shard", sh.shard()},
                        {"replicas", replicas},
                        {"leader", std::to_string(sh.leader())},
                        {"epoch", sh.epoch()},
                        {"hosted", sh.hosted()},
                        {"lag", sh.lag()}});
    }
    self["number"] = std::to_string(reply.cluster_status().node());
    // The metadata group's cluster map, as far as this node has applied it.
    for (const auto& m : reply.cluster_status().members()) {
      nlohmann::json member = {{"id", std::to_string(m.node())},
                               {"address", m.address()},
                               {"incarnation", m.incarnation()},
                               {"state", m.dead()       ? "DEAD"
                                         : m.draining() ? "DRAINING"
                                                        : "ALIVE"},
                               {"metadata_role", m.metadata_role()}};
      if (m.node() == reply.cluster_status().node()) member["name"] = ctx.node_id;
      members.push_back(std::move(member));
    }
    for (const auto& p : reply.cluster_status().peers()) {
      peers.push_back({{"id", std::to_string(p.node())},
                       {"state", p.state()},
                       {"address", p.address()},
                       {"incarnation", p.incarnation()},
                       {"linked", p.linked()}});
    }
  }
  nlohmann::json body;
  body["node"] = self;
  // Before the node has applied its own join (the first second of a founder), it is the only member
  // it knows.
  body["members"] = members.empty() ? nlohmann::json::array({self}) : members;
  if (reply.status().code() == pb::OK && reply.cluster_status().metadata_leader() != 0) {
    body["metadata_leader"] = std::to_string(reply.cluster_status().metadata_leader());
  }
  body["peers"] = peers;
  body["shards"] = shards;
  if (reply.status().code() != pb::OK) body["peers_error"] = reply.status().message();
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJson);
}

bool HttpGateway::handle_transport_error(const httplib::Request& req, httplib::Response& res) {
  // Our own error replies already have a body; only cpp-httplib's own ones arrive here empty.
  if (!res.body.empty()) return false;
  const auto started = Clock::now();
  std::string request_id = node_.context().ids->uuid_v7();
  RequestLogScope scope(request_id);
  res.set_header("X-Request-Id", request_id);
  std::string route = "unmatched";
  auto match = match_route(req.method, req.path);
  if (match.kind != RouteMatch::Kind::no_route) route = match.template_path;
  if (res.status == 413) {
    send_error(res, 413, "PAYLOAD_TOO_LARGE",
               "the request body is larger than http.max-body (" +
                   std::to_string(settings_.http.max_body) + " bytes)",
               {{"max_body_bytes", std::to_string(settings_.http.max_body)}});
  } else if (res.status == 400 && !req.method.empty() &&
             match.kind == RouteMatch::Kind::wrong_method) {
    res.set_header("Allow", allowed_list(match.allowed));
    send_error(res, 405, "METHOD_NOT_ALLOWED",
               req.method + " is not allowed on " + match.template_path,
               {{"allow", allowed_list(match.allowed)}});
  } else if (res.status == 404 ||
             (res.status == 400 && match.kind == RouteMatch::Kind::no_route && !req.path.empty())) {
    send_error(res, 404, "NOT_FOUND", "no route " + req.method + " " + req.path);
  } else {
    int status = res.status;
    send_error(res, status, status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT",
               "malformed HTTP request (status " + std::to_string(status) + ")");
  }
  finish(req, route, res, started);
  return true;
}

void HttpGateway::finish(const httplib::Request& req, const std::string& route,
                         const httplib::Response& res, Clock::time_point started) {
  double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const std::string method = req.method.empty() ? "UNKNOWN" : req.method;
  metrics_.record_request(route, method, res.status, seconds);
  if (res.status >= 500) {
    spdlog::warn("http {} {} -> {} in {:.3f} ms (route {})", method, req.path, res.status,
                 seconds * 1e3, route);
  } else {
    spdlog::info("http {} {} -> {} in {:.3f} ms (route {})", method, req.path, res.status,
                 seconds * 1e3, route);
  }
}

}  // namespace nca::http
