// actors/node.hpp: one neuroca node: storage, actor system, actors, and the published api actor.
//
// Node::start opens the node's RocksDB under node.data-dir, records its id and a new incarnation
// (so a restarted node is never mistaken for its old self), starts the actor system with the
// configured scheduler, spawns the api actor and publishes it on node.listen (port 0: the OS picks;
// port() tells). With tls.enabled, the node's files are checked first (a bad one is an error, not
// CAF's abort), CAF's openssl module is loaded with the node's certificate and the pinned cluster
// CA, and the peer transport is published on tls.listen (peer_port()): peers link only there, by
// mutual TLS, and the api actor on node.listen refuses peer handshakes. stop() unpublishes, saves
// every active persona's indices (bounded wait), shuts the actors down and closes storage; the
// destructor calls it. Thread-safe for concurrent readers of its accessors; start and stop are
// called by one owner.
#pragma once

#include <caf/all.hpp>

#include <memory>

#include "actors/node_context.hpp"
#include "actors/persona_directory.hpp"
#include "config/settings.hpp"
#include "nca/result.hpp"

namespace nca::actors {

class Node {
 public:
  // `clock` (optional) replaces the system clock, for tests that walk time; it must outlive the
  // Node.
  static Result<std::unique_ptr<Node>> start(const config::Settings& settings,
                                             const Clock* clock = nullptr);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  Status stop();

  uint16_t port() const { return port_; }
  // The TLS port peers link through; 0 without tls.enabled.
  uint16_t peer_port() const { return peer_port_; }
  caf::actor api() const { return api_; }
  caf::actor_system& system() { return *sys_; }
  NodeContext& context() { return *ctx_; }

 private:
  Node() = default;

  SystemClock system_clock_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  NodeContextPtr ctx_;
  std::unique_ptr<PersonaDirectory> directory_;
  caf::actor api_;
  uint16_t port_ = 0;
  uint16_t peer_port_ = 0;
  bool stopped_ = false;
};

// Splits "host:port"; the port may be 0. invalid_argument names `what` on error.
Result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& text,
                                                         const std::string& what);

}  // namespace nca::actors
