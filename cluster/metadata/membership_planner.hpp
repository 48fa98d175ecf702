// cluster/metadata/membership_planner.hpp: the next step that brings the metadata group in line
// with the nodes that are actually there (issue #7).
//
// The metadata leader asks next_step() on every tick and carries out what it returns, one step at a
// time (a command is applied, or a membership change is applied, before the next is planned):
//   1. its own entry in the cluster map (join, with its incarnation and address);
//   2. a `join` for every live linked peer that is missing from the map or changed incarnation or
//      address (lowest node id first);
//   3. `mark_dead` for a member the failure detector declared dead, `mark_alive` for a dead-marked
//      member that is live again;
//   4. nothing while a membership change of the group is unapplied;
//   5. every member of the map that is not dead becomes at least a learner of the group, so every
//      node holds the map;
//   6. while the group has fewer than `voters` voters that are not dead, the live learner that has
//      caught up (its matched index within `catch_up_lag` of the leader's last index) with the
//      lowest id becomes a voter; a dead voter is replaced that way before it is removed, so the
//      group never shrinks below `voters` while it has a replacement;
//   7. `create_shards` (the first placement) once the shards do not exist yet, the voters are in
//      place and at least replication_factor members are live;
//   8. once the group has more than `voters` voters, a dead voter is removed, or else (a replaced
//      voter came back first) the live voter with the highest id steps back to learner.
// A follower gets no step. The plan depends only on its inputs, so a new leader continues where the
// old one stopped. A dead voter with no live learner to replace it keeps its vote: a group of three
// with one dead node still has its majority, as any Raft group.
//
// Pure: no clock, no I/O. Thread-safe (a function of values).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cluster/metadata/cluster_map.hpp"
#include "cluster/raft/conf_change.hpp"
#include "cluster/raft/types.hpp"
#include "proto/cluster.pb.h"

namespace nca::metadata {

// A node as the peer transport sees it.
struct NodeSighting {
  uint64_t node = 0;
  uint64_t incarnation = 0;
  std::string address;
  bool live = false;  // linked and not suspected or dead
  bool dead = false;  // declared dead by the failure detector (cluster.dead-after)
};

// The metadata group as its leader sees it.
struct MetadataGroupView {
  bool leader = false;
  bool conf_change_pending = false;
  raft::ConfState conf;
  raft::Index last_index = 0;
  std::map<raft::NodeId, raft::Index> match;
};

struct MembershipStep {
  enum class Kind { none, command, conf_change };
  Kind kind = Kind::none;
  pb::MetaCommand command;  // kind == command
  raft::ConfChange change;  // kind == conf_change
  std::string why;          // for the log
};

struct MembershipPlannerOptions {
  size_t voters = 3;              // cluster.voters
  raft::Index catch_up_lag = 16;  // a learner this close to the leader's log may vote
  // False on a standalone node (no cluster.seeds): it serves its personas from its own RocksDB and
  // places no shards.
  bool place_shards = true;
};

MembershipStep next_step(const ClusterMap& map, const MetadataGroupView& group,
                         const NodeSighting& self, const std::vector<NodeSighting>& peers,
                         const MembershipPlannerOptions& options);

// Whether this node founds the cluster (bootstraps the metadata group as its only voter) on its
// first start: when it has no seeds, or when its advertised address is the first seed, so that
// nodes that all list the same seeds (compose, Kubernetes) have exactly one founder. Every other
// node waits to be added by the metadata leader.
bool founds_cluster(const std::vector<std::string>& seeds, const std::string& advertise);

}  // namespace nca::metadata
