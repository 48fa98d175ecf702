#include "actors/peer_transport.hpp"

#include "proto/neuroca.pb.h"
#include "runtime/crypto.hpp"

#include <spdlog/spdlog.h>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace nca::actors {
namespace {

using membership::FailureDetector;
using membership::PeerChange;
using transport_tick_atom = caf::atom_constant<caf::atom("ptick")>;

struct Link {
  std::string host;
  uint16_t port = 0;
  bool connecting = false;
  caf::actor remote;  // the peer's transport, once a handshake succeeded either way
};

struct TransportState {
  PeerTransportConfig config;
  std::unique_ptr<FailureDetector> detector;
  std::map<uint64_t, Link> links;
  // Addresses to dial whose node is not known yet (cluster.seeds, and addresses peers told us of),
  // each with whether a dial is under way.
  std::map<std::string, bool> seeds;
  std::set<uint64_t> partitioned;
  uint64_t sent = 0, received = 0, dropped = 0, refused = 0;
  uint64_t dials_failed = 0;  // connects or handshakes of ours that did not link
  caf::actor api;             // the node's api actor, for requests forwarded by peers
  // pb::Response.served_by with this node's client address, serialized: appended to the replies of
  // forwarded requests (protobuf merges concatenated messages, so no parse is needed).
  std::string served_by;
  // Requests forwarded to each peer and not answered yet: failed at once when its link goes down
  // (CAF would leave them to their timeout).
  std::map<uint64_t, std::map<uint64_t, caf::typed_response_promise<uint32_t, std::string>>>
      forwards;
  uint64_t next_forward = 0;
};

using TransportSelf = caf::stateful_actor<TransportState>;

// "host:port" -> (host, port); false if it is not one.
bool split_address(const std::string& address, std::string* host, uint16_t* port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  char* end = nullptr;
  unsigned long p = std::strtoul(address.c_str() + colon + 1, &end, 10);
  if (end == nullptr || *end != '\0' || p == 0 || p > 65535) return false;
  *host = address.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return true;
}

std::string address_of(const Link& l) { return l.host + ":" + std::to_string(l.port); }

// Whether some linked peer is reached at `address` (then a seed entry for it is done).
bool linked_at(const TransportState& st, const std::string& address) {
  for (const auto& [id, l] : st.links) {
    if (l.remote && !l.host.empty() && address_of(l) == address) return true;
  }
  return false;
}

// The addresses of the peers this node knows, for a peer that just shook hands (not its own).
std::string known_addresses(const TransportState& st, uint64_t except) {
  std::string out;
  for (const auto& [id, l] : st.links) {
    if (id == except || l.host.empty()) continue;
    out += address_of(l) + "\n";
  }
  return out;
}

void report(TransportSelf* self, const std::vector<PeerChange>& changes) {
  for (const auto& c : changes) {
    spdlog::info("cluster: {}", membership::to_string(c));
    if (self->state.config.listener) {
      self->send(self->state.config.listener, peer_change_atom::value,
                 static_cast<uint32_t>(c.kind), c.peer, c.incarnation);
    }
  }
}

// Records `remote` as the link to `node` after a handshake in either direction.
bool link(TransportSelf* self, uint64_t node, uint64_t incarnation, const caf::actor& remote) {
  auto& st = self->state;
  auto obs = st.detector->observe(node, incarnation, st.config.clock->now_us());
  if (obs.stale) return false;
  Link& l = st.links[node];
  if (l.remote != remote) {
    if (l.remote) self->demonitor(l.remote);
    l.remote = remote;
    self->monitor(remote);
  }
  report(self, obs.changes);
  return true;
}

void learn(TransportSelf* self, const std::string& known);

// Dials `host:port` and shakes hands. `expected` is the node that should answer there (0: a seed,
// any node). On success the link is recorded under the node that answered.
void dial(TransportSelf* self, const std::string& host, uint16_t port, uint64_t expected) {
  auto& st = self->state;
  const std::string address = host + ":" + std::to_string(port);
  if (expected != 0) {
    Link& l = st.links[expected];
    if (l.connecting || l.remote) return;
    l.connecting = true;
  } else {
    bool& dialing = st.seeds[address];
    if (dialing) return;
    dialing = true;
  }
  auto done = [=] {
    if (expected != 0) {
      auto it = self->state.links.find(expected);
      if (it != self->state.links.end()) it->second.connecting = false;
    } else {
      auto it = self->state.seeds.find(address);
      if (it != self->state.seeds.end()) it->second = false;
    }
  };
  auto failed = [=](const caf::error& e) {
    done();
    ++self->state.dials_failed;
    spdlog::debug("cluster: cannot link {}: {}", address, self->system().render(e));
  };
  // With TLS, the openssl module's middleman: its connections present this node's certificate and
  // accept only peers whose certificate the cluster CA signed.
  auto mm = st.config.tls ? self->system().openssl_manager().actor_handle()
                          : self->system().middleman().actor_handle();
  const auto timeout = st.config.connect_timeout;
  self->request(mm, timeout, caf::connect_atom::value, host, port)
      .then(
          [=](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>&) {
            auto remote = caf::actor_cast<caf::actor>(ptr);
            if (!remote) {
              failed(caf::make_error(caf::sec::no_actor_published_at_port));
              return;
            }
            const auto& c = self->state.config;
            self->request(remote, timeout, hello_atom::value, c.node_id, c.incarnation,
                          c.join_secret, caf::actor_cast<caf::actor>(self), c.advertise)
                .then(
                    [=](uint64_t node, uint64_t incarnation, caf::actor theirs,
                        const std::string& known) {
                      done();
                      if (expected != 0 && node != expected) {
                        spdlog::warn("cluster: the address of node {} answers as node {}", expected,
                                     node);
                        return;
                      }
                      if (node == self->state.config.node_id) return;  // a seed that is us
                      Link& l = self->state.links[node];
                      if (l.host.empty()) {
                        l.host = host;
                        l.port = port;
                      }
                      if (link(self, node, incarnation, theirs)) learn(self, known);
                    },
                    failed);
          },
          failed);
}

void connect(TransportSelf* self, uint64_t peer) {
  auto& st = self->state;
  auto it = st.links.find(peer);
  if (it == st.links.end() || it->second.host.empty()) return;
  dial(self, it->second.host, it->second.port, peer);
}

// Addresses a peer knows become seeds to dial, unless they are ours or already linked.
void learn(TransportSelf* self, const std::string& known) {
  auto& st = self->state;
  size_t start = 0;
  while (start < known.size()) {
    size_t end = known.find('\n', start);
    if (end == std::string::npos) end = known.size();
    const std::string address = known.substr(start, end - start);
    start = end + 1;
    std::string host;
    uint16_t port = 0;
    if (!split_address(address, &host, &port) || address == st.config.advertise) continue;
    if (linked_at(st, address) || st.seeds.count(address)) continue;
    st.seeds[address] = false;
    dial(self, host, port, 0);
  }
}

void send_frame(TransportSelf* self, uint64_t peer, std::string bytes) {
  auto& st = self->state;
  auto it = st.links.find(peer);
  if (st.partitioned.count(peer) != 0 || it == st.links.end() || !it->second.remote) {
    ++st.dropped;
    return;
  }
  ++st.sent;
  self->send(it->second.remote, frame_atom::value, st.config.node_id, st.config.incarnation,
             std::move(bytes));
}

using ForwardResult = caf::result<uint32_t, std::string>;

caf::error forward_error(const std::string& why) {
  return caf::make_error(caf::sec::runtime_error, why);
}

ForwardResult forward(TransportSelf* self, uint64_t peer, uint32_t method, std::string bytes) {
  auto& st = self->state;
  auto it = st.links.find(peer);
  if (st.partitioned.count(peer) != 0 || it == st.links.end() || !it->second.remote) {
    ++st.dropped;
    // Its own code: nothing was sent, so the caller may route the request again.
    return caf::make_error(caf::sec::no_route_to_receiving_node,
                           "node " + std::to_string(peer) + " is not reachable from node " +
                               std::to_string(st.config.node_id));
  }
  ++st.sent;
  // A request of our own, not a delegation: the peer authenticates the sender, which must be this
  // transport (a delegated message would carry the original client as its sender).
  auto rp = self->make_response_promise<uint32_t, std::string>();
  const uint64_t op = ++st.next_forward;
  st.forwards[peer].emplace(op, rp);
  // The entry is gone when the link went down first: the caller has its answer already.
  auto take = [self, peer,
               op]() -> std::optional<caf::typed_response_promise<uint32_t, std::string>> {
    auto& pending = self->state.forwards[peer];
    auto it = pending.find(op);
    if (it == pending.end()) return std::nullopt;
    auto found = it->second;
    pending.erase(it);
    return found;
  };
  self->request(it->second.remote, st.config.forward_timeout, forwarded_atom::value,
                st.config.node_id, st.config.incarnation, method, std::move(bytes))
      .then(
          [take](uint32_t m, std::string& reply) mutable {
            if (auto p = take()) p->deliver(m, std::move(reply));
          },
          [take, peer, self](caf::error& e) mutable {
            auto p = take();
            if (!p) return;
            // The peer is stopping (its api actor answers so) or its receiver went away: like a
            // link that went down, the caller may route the request again.
            if (e == caf::sec::request_receiver_down) {
              p->deliver(caf::make_error(caf::sec::no_route_to_receiving_node,
                                         "node " + std::to_string(peer) + " is stopping"));
              return;
            }
            // The peer refused it unseen (it drops this node's frames): nothing was carried out.
            if (e == caf::sec::no_route_to_receiving_node) {
              p->deliver(std::move(e));
              return;
            }
            p->deliver(forward_error("node " + std::to_string(peer) +
                                     " did not answer: " + self->system().render(e)));
          });
  return rp;
}

// The link to `peer` is gone: its forwarded requests get no answer. They may have been carried out
// before it went, so the caller decides whether to send them again (requests carry ids).
void fail_forwards(TransportSelf* self, uint64_t peer) {
  auto it = self->state.forwards.find(peer);
  if (it == self->state.forwards.end()) return;
  auto pending = std::move(it->second);
  self->state.forwards.erase(it);
  for (auto& [op, rp] : pending) {
    rp.deliver(caf::make_error(
        caf::sec::no_route_to_receiving_node,
        "the link to node " + std::to_string(peer) + " went down before it answered"));
  }
}

ForwardResult on_forwarded(TransportSelf* self, uint64_t from, uint64_t incarnation,
                           uint32_t method, std::string bytes) {
  auto& st = self->state;
  auto it = st.links.find(from);
  if (it == st.links.end() || !it->second.remote ||
      caf::actor_cast<caf::strong_actor_ptr>(it->second.remote) != self->current_sender()) {
    ++st.refused;
    return forward_error("a forwarded request from an unauthenticated peer");
  }
  if (st.partitioned.count(from) != 0) {
    ++st.dropped;
    // Not carried out: the sender may route it again, as when its own side drops the frames.
    return caf::make_error(caf::sec::no_route_to_receiving_node,
                           "node " + std::to_string(st.config.node_id) + " is not reachable");
  }
  auto obs = st.detector->observe(from, incarnation, st.config.clock->now_us());
  if (obs.stale) {
    ++st.dropped;
    return forward_error("a forwarded request from a previous life of node " +
                         std::to_string(from));
  }
  report(self, obs.changes);
  if (!st.api) return forward_error("the node is not serving requests yet; retry");
  ++st.received;
  // Asked, not delegated: a delegated message keeps the peer as its sender, and the api actor
  // accepts forwarded requests only from an actor of its own node.
  auto rp = self->make_response_promise<uint32_t, std::string>();
  self->request(st.api, st.config.forward_timeout, forwarded_atom::value, method, std::move(bytes))
      .then(
          [rp, self](uint32_t m, std::string& reply) mutable {
            reply += self->state.served_by;
            rp.deliver(m, std::move(reply));
          },
          [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

void on_frame(TransportSelf* self, uint64_t from, uint64_t incarnation, std::string bytes) {
  auto& st = self->state;
  auto it = st.links.find(from);
  const auto sender = self->current_sender();
  if (it == st.links.end() || !it->second.remote ||
      caf::actor_cast<caf::strong_actor_ptr>(it->second.remote) != sender) {
    ++st.refused;  // not the actor that authenticated as this node
    return;
  }
  if (st.partitioned.count(from) != 0) {
    ++st.dropped;
    return;
  }
  auto obs = st.detector->observe(from, incarnation, st.config.clock->now_us());
  if (obs.stale) {
    ++st.dropped;
    return;
  }
  report(self, obs.changes);
  ++st.received;
  if (!bytes.empty() && st.config.listener) {
    self->send(st.config.listener, frame_atom::value, from, incarnation, std::move(bytes));
  }
}

// One view of the peers for both queries: the structured reply and the operator's text lines.
pb::ClusterStatusReply status_of(const TransportState& st) {
  pb::ClusterStatusReply reply;
  reply.set_node(st.config.node_id);
  reply.set_incarnation(st.config.incarnation);
  reply.set_advertise(st.config.advertise);
  auto* traffic = reply.mutable_traffic();
  traffic->set_frames_sent(st.sent);
  traffic->set_frames_received(st.received);
  traffic->set_frames_dropped(st.dropped);
  traffic->set_frames_refused(st.refused);
  traffic->set_dials_failed(st.dials_failed);
  for (const auto& [id, l] : st.links) {
    auto* p = reply.add_peers();
    p->set_node(id);
    if (!l.host.empty()) p->set_address(address_of(l));
    auto state = st.detector->state_of(id);
    p->set_state(state ? membership::to_string(*state) : "unknown");
    p->set_incarnation(st.detector->incarnation_of(id).value_or(0));
    p->set_linked(static_cast<bool>(l.remote));
  }
  return reply;
}

std::string describe_peers(const TransportState& st) {
  std::ostringstream out;
  const pb::ClusterStatusReply status = status_of(st);
  for (const auto& p : status.peers()) {
    out << p.node() << " " << p.state() << " " << p.incarnation() << " "
        << (p.linked() ? "linked" : "unlinked") << "\n";
  }
  return out.str();
}

caf::behavior peer_transport(TransportSelf* self, PeerTransportConfig config) {
  self->state.config = std::move(config);
  self->state.detector = std::make_unique<FailureDetector>(self->state.config.detector);
  self->set_down_handler([=](caf::down_msg& msg) {
    for (auto& [id, l] : self->state.links) {
      if (l.remote && l.remote.address() == msg.source) {
        spdlog::info("cluster: link to node {} lost", id);
        l.remote = nullptr;
        fail_forwards(self, id);
      }
    }
  });
  self->send(self, transport_tick_atom::value);
  return {
      [=](hello_atom, uint64_t node, uint64_t incarnation, const std::string& secret,
          caf::actor theirs, const std::string& advertise)
          -> caf::result<uint64_t, uint64_t, caf::actor, std::string> {
        auto& st = self->state;
        const auto& c = st.config;
        if (!c.join_secret.empty() && !constant_time_equal(secret, c.join_secret)) {
          ++st.refused;
          spdlog::warn("cluster: node {} presented a wrong join secret", node);
          return caf::make_error(caf::sec::request_receiver_down, "wrong join secret");
        }
        if (node == 0 || node == c.node_id || incarnation == 0 || !theirs) {
          ++st.refused;
          return caf::make_error(caf::sec::invalid_argument, "bad node id or incarnation");
        }
        if (!link(self, node, incarnation, theirs)) {
          ++st.refused;
          return caf::make_error(caf::sec::invalid_argument, "incarnation older than known");
        }
        std::string host;
        uint16_t port = 0;
        if (split_address(advertise, &host, &port)) {
          Link& l = st.links[node];
          l.host = host;
          l.port = port;
        }
        return {c.node_id, c.incarnation, caf::actor_cast<caf::actor>(self),
                known_addresses(st, node)};
      },
      [=](advertise_atom, const std::string& address) { self->state.config.advertise = address; },
      [=](add_seed_atom, const std::string& address) {
        auto& st = self->state;
        std::string host;
        uint16_t port = 0;
        if (!split_address(address, &host, &port) || address == st.config.advertise) return;
        st.seeds.emplace(address, false);
        dial(self, host, port, 0);
      },
      [=](add_peer_atom, uint64_t peer, const std::string& host, uint16_t port) {
        if (peer == 0 || peer == self->state.config.node_id) return;
        Link& l = self->state.links[peer];
        if (l.host != host || l.port != port) {
          l.host = host;
          l.port = port;
          if (l.remote) self->demonitor(l.remote);
          l.remote = nullptr;  // a new address is a new process: link again
        }
        connect(self, peer);
      },
      [=](send_frame_atom, uint64_t peer, std::string& bytes) {
        send_frame(self, peer, std::move(bytes));
      },
      [=](frame_atom, uint64_t from, uint64_t incarnation, std::string& bytes) {
        on_frame(self, from, incarnation, std::move(bytes));
      },
      [=](partition_atom, uint64_t peer, bool drop) {
        if (drop) {
          self->state.partitioned.insert(peer);
        } else {
          self->state.partitioned.erase(peer);
        }
      },
      [=](forward_atom, uint64_t peer, uint32_t method, std::string& bytes) {
        return forward(self, peer, method, std::move(bytes));
      },
      [=](forwarded_atom, uint64_t from, uint64_t incarnation, uint32_t method,
          std::string& bytes) {
        return on_forwarded(self, from, incarnation, method, std::move(bytes));
      },
      [=](api_atom, caf::actor api) { self->state.api = std::move(api); },
      [=](served_by_atom, const std::string& address) {
        pb::Response r;
        r.set_served_by(address);
        self->state.served_by = r.SerializeAsString();
      },
      [=](listener_atom, caf::actor listener) {
        self->state.config.listener = std::move(listener);
      },
      [=](peers_atom) { return describe_peers(self->state); },
      [=](cluster_status_atom) { return status_of(self->state).SerializeAsString(); },
      [=](counters_atom) {
        const auto& st = self->state;
        return "sent=" + std::to_string(st.sent) + " received=" + std::to_string(st.received) +
               " dropped=" + std::to_string(st.dropped) + " refused=" + std::to_string(st.refused) +
               " dials_failed=" + std::to_string(st.dials_failed);
      },
      [=](transport_tick_atom) {
        auto& st = self->state;
        report(self, st.detector->tick(st.config.clock->now_us()));
        for (auto& [id, l] : st.links) {
          if (l.remote) {
            send_frame(self, id, std::string());
          } else {
            connect(self, id);
          }
        }
        for (auto& [address, dialing] : st.seeds) {
          std::string host;
          uint16_t port = 0;
          if (!dialing && !linked_at(st, address) && split_address(address, &host, &port)) {
            dial(self, host, port, 0);
          }
        }
        self->delayed_send(self, st.config.heartbeat_interval, transport_tick_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_peer_transport(caf::actor_system& sys, PeerTransportConfig config) {
  return sys.spawn(peer_transport, std::move(config));
}

}  // namespace nca::actors
