// sdk/src/transport.hpp: the client's CAF side: one actor system, a connection to one node at a
// time, and the send/retry loop for envelope requests.
//
// Transport carries opaque (method, bytes) envelopes; it knows nothing of the protobuf messages
// inside. Every send runs in one long-lived event-based actor of the transport (nothing blocks a
// CAF thread, and any number of calls can be in flight), so a node sees one sender per client
// rather than a new actor, with a proxy of its own, per call. A send that fails in transport (a
// caf::error other than its own timeout) drops the connection, connects to the next address and
// resends the same bytes, up to max_attempts or the deadline. Connecting never blocks on a dead
// address for longer than connect_timeout.
//
// Routes (sdk/src/route_cache.hpp): a send with a route key whose node is known goes to that node,
// over a connection of its own kept for later sends; if that node cannot be reached the route is
// forgotten and the send goes through the client's connection as usual.
//
// Thread-safe: connect() and send() may be called from any thread. The destructor fails every send
// still in flight with unavailable, then stops the actor system; do not call into a Transport being
// destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nca/result.hpp"
#include "sdk/src/address.hpp"
#include "sdk/src/route_cache.hpp"

namespace nca::sdk {

using SteadyTime = std::chrono::steady_clock::time_point;

struct TransportOptions {
  std::chrono::milliseconds connect_timeout{2000};
  int max_attempts = 3;
};

// What the node answered, with the address of the node that answered (for error messages).
struct RawReply {
  uint32_t method = 0;
  std::string bytes;
  std::string address;
};

// One envelope to send, decided late (Transport::send_when_ready).
struct PreparedSend {
  uint32_t method = 0;
  std::string bytes;
  SteadyTime deadline;
  std::string route_key;
  std::function<void(Result<RawReply>)> done;
};

class Transport {
 public:
  // `endpoints` must not be empty.
  Transport(std::vector<Endpoint> endpoints, TransportOptions options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Connects to the first address that answers (in order), waiting at most until `deadline`.
  Status connect(SteadyTime deadline);

  // Sends one envelope; `done` runs exactly once, on a CAF thread (or on the caller's thread when
  // the transport is already closed), with the reply or an unavailable / deadline_exceeded /
  // internal error.
  void send(uint32_t method, std::string bytes, SteadyTime deadline, std::string route_key,
            std::function<void(Result<RawReply>)> done);

  // As send, but what is sent is decided only when the transport's actor gets to it, so calls made
  // meanwhile can still join it (Client::Impl's coalescing). `prepare` runs exactly once: when the
  // send starts, or when it is failed before (client closing; then on the thread that fails it),
  // and its `done` then gets unavailable. nullopt: nothing to send after all. May be called from a
  // `done` that a closing transport runs; it then fails at once.
  void send_when_ready(std::function<std::optional<PreparedSend>()> prepare);

  // A reply to a send with `route_key` was served by the node at `address` (served_by), for the
  // shard `shard` names (RouteCache).
  void learn_route(const std::string& route_key, const std::string& address, ShardHint shard = {});
  // Sends with `route_key` go through the client's own connection again.
  void forget_route(const std::string& route_key);
  size_t routes_known() const;

  // "host:port" of the node currently connected, or of the one that would be tried next.
  std::string address() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace nca::sdk
