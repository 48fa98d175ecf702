#include "cluster/metadata/shard_reconciler.hpp"

#include <algorithm>
#include <set>

namespace nca::metadata {
namespace {

std::string shard_name(const pb::ShardAssignment& shard) {
  return "shard " + std::to_string(shard.shard()) + " (epoch " + std::to_string(shard.epoch()) +
         ")";
}

ShardStep shard_change(raft::ConfChangeType type, uint64_t node, std::string why) {
  ShardStep s;
  s.kind = ShardStep::Kind::conf_change;
  s.change = raft::ConfChange{type, node};
  s.why = std::move(why);
  return s;
}

}  // namespace

ShardStep next_shard_step(const pb::ShardAssignment& shard, const MetadataGroupView& group,
                          uint64_t self, raft::Index catch_up_lag) {
  ShardStep none;
  if (!group.leader || group.conf_change_pending) return none;
  const std::set<uint64_t> wanted(shard.replicas().begin(), shard.replicas().end());
  const std::string name = shard_name(shard);
  auto caught_up = [&](uint64_t node, raft::Index lag) {
    auto it = group.match.find(node);
    return it != group.match.end() && it->second + lag >= group.last_index;
  };
  // 1. Missing replicas join as learners, in the map's order.
  for (uint64_t r : shard.replicas()) {
    if (!raft::is_voter(group.conf, r) && !raft::is_learner(group.conf, r)) {
      return shard_change(raft::ConfChangeType::add_learner, r,
                          name + ": node " + std::to_string(r) + " joins as a learner");
    }
  }
  // 2. Wanted learners vote once caught up; until then nothing leaves.
  bool behind = false;
  for (uint64_t r : group.conf.learners) {
    if (!wanted.count(r)) continue;
    if (caught_up(r, catch_up_lag)) {
      return shard_change(
          raft::ConfChangeType::add_voter, r,
          name + ": node " + std::to_string(r) + " has caught up and becomes a voter");
    }
    behind = true;
  }
  if (behind) return none;
  // 3. Learners the map does not list.
  for (uint64_t r : group.conf.learners) {
    if (!wanted.count(r)) {
      return shard_change(raft::ConfChangeType::remove_node, r,
                          name + ": learner " + std::to_string(r) + " is no longer a replica");
    }
  }
  // 4. Voters the map does not list; the leader hands over before it goes.
  for (uint64_t r : group.conf.voters) {
    if (wanted.count(r)) continue;
    if (r != self) {
      return shard_change(raft::ConfChangeType::remove_node, r,
                          name + ": voter " + std::to_string(r) + " is no longer a replica");
    }
    std::vector<uint64_t> candidates;
    if (wanted.count(shard.leader_hint())) candidates.push_back(shard.leader_hint());
    candidates.insert(candidates.end(), shard.replicas().begin(), shard.replicas().end());
    for (uint64_t c : candidates) {
      if (c != self && raft::is_voter(group.conf, c) && caught_up(c, 0)) {
        ShardStep s;
        s.kind = ShardStep::Kind::transfer;
        s.to = c;
        s.why = name + ": this node leaves the shard and hands its leadership to node " +
                std::to_string(c);
        return s;
      }
    }
    return none;  // no voter to hand over to is current yet
  }
  // 5. The group matches the map.
  if (shard.settled_epoch() < shard.epoch()) {
    ShardStep s;
    s.kind = ShardStep::Kind::settled;
    s.why = name + ": the group matches the map";
    return s;
  }
  return none;
}

}  // namespace nca::metadata
