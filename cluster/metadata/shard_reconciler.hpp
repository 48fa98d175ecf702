// cluster/metadata/shard_reconciler.hpp: the next step a shard's leader takes to make its Raft
// group match the shard's replicas in the cluster map (issue #7, rebalancing).
//
// The rebalancer (rebalancer.hpp) only rewrites the map; each shard's leader carries the change
// out, one membership change at a time, asking next_shard_step() on every metadata tick:
//   1. a replica of the map that is not in the group joins as a learner (it catches up from the
//      leader's log or, past the log's start, from the shard's checkpoint);
//   2. a learner of the map whose matched index is within `catch_up_lag` of the leader's last index
//      becomes a voter; while a wanted learner is still behind, nothing is removed (add before
//      remove: the group never has fewer caught-up voters than the map asks for);
//   3. a learner the map does not list is removed;
//   4. a voter the map does not list is removed; when that voter is the leader itself, it first
//      hands the leadership to a caught-up voter the map lists (the shard's preferred leader when
//      it qualifies), and the new leader removes it;
//   5. once the group's voters are exactly the map's replicas and it has no learners, the leader
//      reports the shard settled at its epoch, unless the map says so already.
// The step depends only on its inputs, so a new leader continues where the old one stopped.
//
// Pure: no clock, no I/O. Thread-safe (a function of values).
#pragma once

#include <cstdint>
#include <string>

#include "cluster/metadata/membership_planner.hpp"
#include "cluster/raft/conf_change.hpp"
#include "proto/cluster.pb.h"

namespace nca::metadata {

struct ShardStep {
  enum class Kind { none, conf_change, transfer, settled };
  Kind kind = Kind::none;
  raft::ConfChange change;  // kind == conf_change
  uint64_t to = 0;          // kind == transfer: the voter that takes the leadership
  std::string why;          // for the log
};

// `group` is the shard's group as this node sees it; only its leader gets a step.
ShardStep next_shard_step(const pb::ShardAssignment& shard, const MetadataGroupView& group,
                          uint64_t self, raft::Index catch_up_lag = 16);

}  // namespace nca::metadata
