// cluster/metadata/leader_preference.hpp: whom a shard's leader hands its leadership to, so that
// leaders stay spread as the cluster map prefers (initial placement and the rebalancer spread the
// preferred leaders so leaders per node differ by at most one).
//
// Contract: preferred_leader() is the shard's leader hint when it is one of the shard's replicas,
// else its first replica. hand_over_target() is the voter the group's leader, this node, should
// hand its leadership to now, or 0: the preferred leader, when this node leads the group and is
// not it, and the preferred leader is a voter of the group, not dead in the map (a dead replica
// the rebalancer keeps may stay preferred; a hand-over to it would hold the group's proposals for
// an election timeout and fail), `settled` says it has been up long enough (a node that has just
// restarted is still recovering: cluster/metadata/node_uptime.hpp), and its log has caught up
// with this leader's.
//
// Pure: functions of values. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>

#include "cluster/metadata/cluster_map.hpp"
#include "cluster/raft_host.hpp"
#include "proto/cluster.pb.h"

namespace nca::metadata {

uint64_t preferred_leader(const pb::ShardAssignment& a);

uint64_t hand_over_target(const ClusterMap& map, const pb::ShardAssignment& a,
                          const cluster::RaftHost::GroupView& view, uint64_t self,
                          const std::function<bool(uint64_t node)>& settled);

}  // namespace nca::metadata
