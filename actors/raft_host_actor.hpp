// actors/raft_host_actor.hpp: the actor shell around cluster::RaftHost. It ticks the node's Raft
// groups, feeds them the frames the peer transport delivers, sends their batches back through the
// transport, and answers proposals once they are applied.
//
// Contract.
//   * It is the peer transport's listener: (frame_atom, node, incarnation, bytes) from the
//     transport is decoded (transport/raft_codec.hpp) and must come from `node`; anything else is
//     dropped and logged.
//   * (propose_atom, group, data) -> the entry's index, delivered only when this node has applied
//     it. Errors (caf::error with a message): the group is not hosted, this node is not its leader
//     (the message names the leader it knows, if any), or leadership was lost before the entry
//     committed (the caller retries; the entry may or may not have been applied elsewhere, which is
//     why writes carry request ids). Every proposal is answered, so a caller may wait without a
//     timeout: a leader that is handing the leadership over holds proposals until the hand-over is
//     done (then fails them) or abandoned (then proposes them); a failed log save fails them all.
//   * Frames, proposals and ticks mark the host dirty; one flush message queued behind them handles
//     every group's Ready at once (cluster::RaftHost::process_ready: one sync for all groups).
//   * (conf_change_atom, group, type, node) -> the change's index once applied here, with the
//     errors of a proposal (and `conflict` while another change of the group is unapplied). `type`
//     is a raft::ConfChangeType.
//   * (compact_atom, group, index, data) -> true once the group's log up to `index` is replaced by
//     a snapshot of `data` (cluster::RaftHost::compact; its errors as caf::error messages).
//   * (add_group_atom, group, voters) -> true once the group is hosted here, its log from
//     storage_for(group), bootstrapped with `voters` when that storage is empty (the same list on
//     every founding replica); already hosted is success. A group whose only voter is this node
//     campaigns at once.
//   * (remove_group_atom, group) -> true once the group is no longer hosted here (this replica left
//     it): its waiting proposals fail, `leadership` hears that this node knows no leader, and
//     `dropped` gets the group's storage to destroy. Not hosted is success. A group installing a
//     snapshot is removed (and the answer sent) once the install is done.
//   * (read_index_atom, group) -> the index a linearizable read waited for, once a quorum has
//     confirmed this node still leads `group` and this node has applied that index: state read
//     afterwards includes every write acknowledged before the read began. Reads asked between two
//     flushes share one heartbeat round. Fails when this node does not lead the group or loses
//     the leadership first.
//   * (group_views_atom) -> GroupViewsPtr, every hosted group's view: role, configuration, last
//     index and (on the leader) each member's matched index.
//   * (transfer_atom, group, to): this node, leading `group`, hands the leadership to voter `to`
//     (cluster::RaftHost::transfer_leadership); refused quietly otherwise.
//   * (raft_state_atom, group) -> "leader=N role=R term=T", for operators and tests.
//   * `leadership` hears of every change of a group's leader, and when this node, leading, may
//     serve the group (see RaftHostActorConfig).
//   * A failed log save stops the actor (the node must restart the groups from storage).
//
// Thread-safety: an actor. The storages come from `storage_for` and are owned by the host; the
// apply callback runs on the actor's thread, in log order per group.
#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "actors/raft_host_counters.hpp"
#include "cluster/raft/log_storage.hpp"
#include "cluster/raft_host.hpp"

namespace nca::actors {

using propose_atom = caf::atom_constant<caf::atom("propose")>;
using raft_state_atom = caf::atom_constant<caf::atom("raftstate")>;
using conf_change_atom = caf::atom_constant<caf::atom("confchg")>;
using compact_atom = caf::atom_constant<caf::atom("compact")>;
using add_group_atom = caf::atom_constant<caf::atom("addgroup")>;
using group_views_atom = caf::atom_constant<caf::atom("groupviews")>;
using transfer_atom = caf::atom_constant<caf::atom("transfer")>;
using remove_group_atom = caf::atom_constant<caf::atom("rmgroup")>;
using read_index_atom = caf::atom_constant<caf::atom("readindex")>;

// Every hosted group's view (cluster::RaftHost::view_of), by group id, for membership management.
using GroupViewsPtr = std::shared_ptr<const std::map<uint64_t, cluster::RaftHost::GroupView>>;

struct RaftHostActorConfig {
  cluster::RaftHost::Options host;
  uint64_t incarnation = 0;
  std::chrono::milliseconds tick{100};  // raft.tick
  caf::actor transport;                 // actors/peer_transport.hpp
  std::vector<uint64_t> groups;
  std::vector<raft::NodeId> bootstrap_voters;
  std::function<std::unique_ptr<raft::LogStorage>(uint64_t group)> storage_for;
  cluster::RaftHost::ApplyFn apply;
  // Called on the actor's thread after each round's entries went through `apply` (null: nothing
  // to do): an application that stages applies writes them here. Only then are the round's
  // proposals answered and `leadership(..., true)` told, so both see the round's state. Entries
  // are applied before the round syncs its log (RaftHost::process_ready's `applied_early`): the
  // application's applied state must share the logs' write-ahead log, so that a crash cannot
  // keep an applied entry whose log write it lost.
  std::function<void()> round_applied;
  // Snapshots to install. One received from a leader is saved and installed by a detached actor,
  // off the actor's thread (RaftHost::set_install_runner): the group stands still meanwhile, the
  // others go on. A stored one is installed on the actor's thread when its group is added.
  cluster::RaftHost::RestoreFn restore;
  // How the detached actor installs a snapshot from a leader (RaftHost::set_adopt_fn); null:
  // it saves the snapshot to the group's storage, then calls `restore`.
  cluster::RaftHost::AdoptFn adopt;
  // The last index the application holds for a group (cluster::RaftHost::add_group); null: 0.
  std::function<Result<raft::Index>(uint64_t group)> applied_for;
  // Told, on the actor's thread, who leads a group whenever that changes (`serving` false), and
  // once more with `serving` true when this node leads and has applied an entry of its own term:
  // from then on its state includes everything committed before, and it may serve the group.
  std::function<void(uint64_t group, raft::NodeId leader, bool serving)> leadership;
  // Every `snapshot_entries` applied entries of a group (0: never) for which `compacts(group)` is
  // true, the actor compacts the group's log to its state (cluster::RaftHost::compact_to_state):
  // a compaction copies nothing, and `checkpoint_of(group)` pins the state as of the applied
  // index, only when a follower behind the log's start needs one (the apply callback runs on this
  // actor's thread, so nothing moves meanwhile); its `make` reads the snapshot's data in a
  // detached actor, off this actor's thread, and the follower gets it once it is made. Groups for
  // which `compacts` is false are compacted by someone else (the metadata actor does its own).
  cluster::RaftHost::CheckpointFn checkpoint_of;
  std::function<bool(uint64_t group)> compacts;
  uint64_t snapshot_entries = 0;
  // A group this node left (remove_group_atom), with its storage: the application destroys the log
  // and whatever state it keeps for the group. An error is the remove's answer.
  std::function<Status(uint64_t group, std::unique_ptr<raft::LogStorage> storage)> dropped;
  // Rounds, slow rounds, leader changes and failed proposals are counted here (null: not
  // counted); must outlive the actor.
  RaftHostCounters* counters = nullptr;
};

// The actor, or the error that kept a group from starting (its storage, or a bad config).
Result<caf::actor> spawn_raft_host(caf::actor_system& sys, RaftHostActorConfig config);

}  // namespace nca::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(nca::actors::GroupViewsPtr)
