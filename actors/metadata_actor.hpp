// actors/metadata_actor.hpp: the metadata group's shell on one node (issue #7, DESIGN §5).
//
// Contract.
//   * It holds the node's copy of the cluster map (cluster/metadata/cluster_map.hpp). The Raft host
//     sends it every committed entry of the metadata group, in log order, as
//     (meta_apply_atom, index, data); leaders' empty no-ops are skipped, a command the map refuses
//     is applied as a refusal (the map says so identically on every node) and logged.
//   * Every `tick` it asks the Raft host for the group's view and the peer transport for its peers.
//     While this node leads the group it carries out metadata::next_step (membership_planner.hpp):
//     one command or membership change at a time, the next only once the previous was applied or
//     failed. Requests carry the node's request timeout.
//   * (cluster_status_atom) -> a serialized nca.pb.ClusterStatusReply: the transport's view of the
//     peers plus the map's members, each with its role in the metadata group, the group's leader
//     as far as this node knew at its last tick, and the shards with their leaders and lag.
//   * (meta_restore_atom, index, data) replaces the map by a snapshot (ClusterMap::restore), sent
//   by
//     the Raft host for the group's stored snapshot at start and for one received from the leader.
//     Every `snapshot_entries` applied entries the actor asks the Raft host to compact the log
//     into a snapshot of the map (so the log stays short and late members catch up from it).
//   * For every shard of the map this node is a replica of, it asks the Raft host to host the
//     shard's group (group shard + 1), bootstrapped with the first placement's replicas. A shard
//     group's leader hands the leadership to the shard's preferred leader (its leader hint) once
//     that voter has caught up, so leaders spread evenly over the nodes.
//   * Rebalancing. While it leads the metadata group and membership needs nothing, the actor
//     proposes the rebalancer's next move (cluster/metadata/rebalancer.hpp) as a set_shard, with at
//     most `rebalance_concurrency` shards unsettled at once. On every shard this node leads, it
//     carries the map out (cluster/metadata/shard_reconciler.hpp): learners join and catch up,
//     become voters, removed replicas leave, and the leader reports the shard settled (a
//     shard_settled command, forwarded to the metadata leader as a ClusterAdminRequest). A shard
//     the map no longer places here is dropped (its group, log and records) once it has settled.
//   * (meta_command_atom, MetaCommand bytes) -> (index, leader, refusal): an operator's command
//     (drain, undrain) or a peer's report. On the metadata leader it is proposed and answered with
//     its index once applied; elsewhere with the leader to forward it to (0: none known). A command
//     the map cannot take (an unknown node) is refused with a message.
//   * (set_raft_atom, actor) names the Raft host (spawned after this actor, which its apply
//     callback sends to).
//
// Thread-safety: an actor; the map is its state alone.
#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace nca::actors {

using meta_apply_atom = caf::atom_constant<caf::atom("metaapply")>;
using meta_restore_atom = caf::atom_constant<caf::atom("metarestor")>;
using set_raft_atom = caf::atom_constant<caf::atom("setraft")>;
using meta_command_atom = caf::atom_constant<caf::atom("metacmd")>;

constexpr uint64_t kMetadataGroup = 0;
// Shard s is Raft group s + 1.
constexpr uint64_t shard_group(uint32_t shard) { return uint64_t{shard} + 1; }
// The shard whose log is `group` (group > kMetadataGroup).
constexpr uint32_t group_shard(uint64_t group) { return static_cast<uint32_t>(group - 1); }

struct MetadataActorConfig {
  uint64_t node = 0;  // membership::node_number(node.id)
  uint64_t incarnation = 0;
  std::string advertise;  // host:port peers and clients reach this node at
  size_t voters = 3;      // cluster.voters
  uint32_t shards = 64;   // cluster.shards
  uint32_t replication_factor = 3;
  std::chrono::milliseconds tick{200};
  uint64_t snapshot_entries = 10000;  // raft.snapshot-entries
  std::chrono::microseconds request_timeout{std::chrono::seconds(10)};
  caf::actor transport;  // actors/peer_transport.hpp
  // False on a standalone node: it places no shards (membership_planner.hpp).
  bool place_shards = true;
  // How many shards may have a rebalancing change under way at once (cluster.rebalance-moves).
  size_t rebalance_concurrency = 4;
  // How long a preferred replica must have been up before leaderships are handed back to it
  // (cluster.leader-return-delay; cluster/metadata/node_uptime.hpp).
  std::chrono::microseconds leader_return_delay{std::chrono::seconds(3)};
  // The metadata log's commit index this node had persisted when it started. Entries up to it are
  // a replay of history: they rebuild the map, but shards are hosted and dropped only on the map as
  // it stands after them. (Acting on a historical map dropped shard copies the node holds as a
  // voter today, when history had moved the shard away and back: a voter lost its log.)
  uint64_t replay_until = 0;
  // Told the map's shard count and each shard's replicas (preferred first) whenever the actor has
  // applied a map with shards.
  std::function<void(uint32_t shards, const std::vector<std::vector<uint64_t>>& replicas)>
      shards_placed;
};

caf::actor spawn_metadata_actor(caf::actor_system& sys, MetadataActorConfig config);

}  // namespace nca::actors
