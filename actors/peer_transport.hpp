// actors/peer_transport.hpp: the node-to-node link of a cluster. One transport actor per node
// carries opaque frames (Raft batches, membership messages) to and from its peers, authenticates
// them, and watches their liveness.
//
// Contract.
//   * Peers are learned by address: (add_peer_atom, peer, host, port). The transport connects
//     asynchronously through CAF's middleman actor with a deadline (never the blocking
//     remote_actor()) and retries on every tick while it has no link. Whatever actor is published
//     at that address must answer the handshake: a peer's transport, or a node's api actor that
//     forwards it.
//   * Seeds are learned by address alone: (add_seed_atom, "host:port"); the node that answers
//     there is linked under its own id. The handshake reply lists the addresses of the peers the
//     answering node knows, and those are dialled too, so nodes that share one seed end up linked
//     with each other (a full mesh: clusters here are tens of nodes, not thousands).
//   * Handshake: (hello_atom, node, incarnation, join_secret, transport, advertise) -> (node,
//     incarnation, transport, known peer addresses, one "host:port" per line). A wrong secret, a
//     node id of 0 or of this node, or an incarnation older than one already seen from that node
//     is refused with an error and links nothing.
//   * (send_frame_atom, peer, bytes) sends one frame; it is dropped when there is no link (frames
//     are for protocols that retry, like Raft) and counted.
//   * Incoming (frame_atom, node, incarnation, bytes) is accepted only from the actor that
//     completed a handshake as that node, only from the node's current incarnation (see
//     cluster/membership/failure_detector.hpp), and only while no partition rule drops it. Accepted
//     non-empty frames go to the listener as (frame_atom, node, incarnation, bytes); empty frames
//     are heartbeats, sent to every linked peer each `heartbeat_interval`.
//   * Peer state changes (joined, restarted, suspected, recovered, died) go to the listener as
//     (peer_change_atom, kind, node, incarnation) with kind a membership::PeerChange::Kind.
//   * (partition_atom, peer, bool) drops every frame to and from `peer` while true: the
//     message-dropping hook fault tests use for partitions.
//   * (peers_atom) -> a line per known peer: "node state incarnation linked|unlinked".
//   * (cluster_status_atom) -> a serialized nca.pb.ClusterStatusReply (node_name left empty).
//   * (counters_atom) -> "sent=N received=N dropped=N refused=N dials_failed=N" (refused: peers
//     that failed authentication here; dials_failed: connects or handshakes of this node that
//     linked nothing, e.g. a TLS handshake a peer refused).
//   * Client requests for another node (the leader of a persona's shard): (forward_atom, peer,
//     method, bytes) -> (method, reply bytes), delegated to the peer's transport, which checks the
//     sender as for frames and hands it to its node's api actor as (forwarded_atom, method, bytes).
//     No link or a partition rule is caf::sec::no_route_to_receiving_node (nothing was sent), and
//     so is a link that goes down before the answer (the request may have been carried out: it
//     carries its request id). No api actor on the peer, or no answer within `forward_timeout`, is
//     another caf::error.
//   * (api_atom, actor) names the node's api actor (spawned after the transport).
//   * (served_by_atom, "host:port") names this node's client address: replies to requests peers
//     forwarded here carry it (pb::Response.served_by), so clients learn where a persona is served.
//   * (listener_atom, actor) replaces the listener (the Raft host is spawned after the transport it
//     sends through); (advertise_atom, "host:port") sets the advertised address (known only once
//     the node's port is bound).
//
// Thread-safety: an actor; all state is its own. The clock is not owned and must outlive it.
#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "cluster/membership/failure_detector.hpp"
#include "runtime/clock.hpp"

namespace nca::actors {

using hello_atom = caf::atom_constant<caf::atom("peerhello")>;
using frame_atom = caf::atom_constant<caf::atom("peerframe")>;
using add_peer_atom = caf::atom_constant<caf::atom("addpeer")>;
using send_frame_atom = caf::atom_constant<caf::atom("sendframe")>;
using partition_atom = caf::atom_constant<caf::atom("partition")>;
using peer_change_atom = caf::atom_constant<caf::atom("peerchg")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using counters_atom = caf::atom_constant<caf::atom("counters")>;
using listener_atom = caf::atom_constant<caf::atom("listener")>;
using add_seed_atom = caf::atom_constant<caf::atom("addseed")>;
using advertise_atom = caf::atom_constant<caf::atom("advertise")>;
using cluster_status_atom = caf::atom_constant<caf::atom("clstatus")>;
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using forwarded_atom = caf::atom_constant<caf::atom("forwarded")>;
using api_atom = caf::atom_constant<caf::atom("api")>;
using served_by_atom = caf::atom_constant<caf::atom("servedby")>;

struct PeerTransportConfig {
  uint64_t node_id = 0;      // this node's id in the cluster (never 0)
  uint64_t incarnation = 0;  // this run of the node (never 0; higher after every restart)
  std::string join_secret;   // cluster.join-secret; empty: no check
  bool tls = false;          // dial peers through CAF's openssl module (mutual TLS)
  std::string advertise;     // "host:port" peers reach this node at; empty: not told to peers
  std::chrono::milliseconds heartbeat_interval{500};
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds forward_timeout{
      10000};  // a forwarded request's answer (actors.request-timeout)
  membership::FailureDetector::Options detector;
  const Clock* clock = nullptr;  // not owned
  caf::actor listener;           // receives frames and peer changes; may be invalid
};

caf::actor spawn_peer_transport(caf::actor_system& sys, PeerTransportConfig config);

}  // namespace nca::actors
