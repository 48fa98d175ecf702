// http/http_gateway.hpp: the node's HTTP/JSON API, operations endpoints and dashboard.
//
// HttpGateway::start binds http.listen (port 0: the OS picks; port() tells) and serves on
// http.threads worker threads (cpp-httplib). Every API route (http/route_table.hpp) becomes one
// pb::Request sent to the node's api actor in the SDK's wire envelope, so HTTP and SDK share one
// code path and one schema; replies are protobuf's JSON mapping (http/json_mapping.hpp). Each
// request has a deadline (http.timeout, or a smaller X-Timeout-Ms; a long poll adds its wait) and a
// request id (X-Request-Id or generated; echoed, passed to the node, and on every log line of the
// request). Bodies over http.max-body are refused with 413. Errors are
// {"code","message","details"}.
//
// stop(drain) closes the listening socket, answers requests that arrive from then on with 503,
// gives requests in flight until `drain` to finish (then answers them 503), and returns once every
// worker thread is done. Each connection holds one worker thread while it is open, so idle
// keep-alive connections are closed after 2 s. Thread-safety: start/stop/destructor from one owner
// thread; port()/metrics() from any thread. Ownership: the gateway borrows the Node, which must
// outlive it (stop the gateway first).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "actors/node.hpp"
#include "config/settings.hpp"
#include "http/metrics.hpp"
#include "nca/result.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace nca::http {

class ActorBridge;
class NodeCalls;
struct RouteMatch;

struct GatewayOptions {
  // The actor API requests go to; null: node.api(). Tests put a scripted actor here to see every
  // status.
  caf::actor api;
};

class HttpGateway {
 public:
  static Result<std::unique_ptr<HttpGateway>> start(const config::Settings& settings,
                                                    actors::Node& node,
                                                    GatewayOptions options = {});
  ~HttpGateway();
  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  uint16_t port() const { return port_; }
  // host:port as bound (the port resolved when http.listen asked for 0).
  std::string address() const;

  void stop(std::chrono::milliseconds drain);

  const MetricsRegistry& metrics() const { return metrics_; }
  // Requests being handled now.
  uint64_t in_flight() const { return in_flight_.load(); }

 private:
  HttpGateway(const config::Settings& settings, actors::Node& node);

  void handle(const httplib::Request& req, httplib::Response& res);
  void dispatch(const httplib::Request& req, const RouteMatch& match, const std::string& request_id,
                httplib::Response& res);
  // Fills in the responses cpp-httplib makes itself (413, malformed requests, unknown methods).
  bool handle_transport_error(const httplib::Request& req, httplib::Response& res);
  void finish(const httplib::Request& req, const std::string& route, const httplib::Response& res,
              std::chrono::steady_clock::time_point started);

  void serve_ready(std::chrono::steady_clock::time_point deadline, httplib::Response& res);
  void serve_metrics(std::chrono::steady_clock::time_point deadline, httplib::Response& res);
  void serve_event_stats(std::chrono::steady_clock::time_point deadline, httplib::Response& res);
  void serve_cluster(std::chrono::steady_clock::time_point deadline, httplib::Response& res);
  // Views whose figures cover every tenant need an admin credential for every tenant.
  Status require_admin(const std::string& token);

  config::Settings settings_;
  actors::Node& node_;
  std::string host_;
  uint16_t port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<ActorBridge> bridge_;
  std::unique_ptr<NodeCalls> calls_;
  MetricsRegistry metrics_;
  std::atomic<uint64_t> in_flight_{0};
  std::thread listener_;
  bool stopped_ = false;
};

}  // namespace nca::http
