#include "cluster/metadata/membership_planner.hpp"

#include <algorithm>

namespace nca::metadata {
namespace {

bool in_map_as(const ClusterMap& map, const NodeSighting& n) {
  const pb::ClusterMember* m = map.member(n.node);
  return m != nullptr && m->incarnation() >= n.incarnation && m->address() == n.address;
}

MembershipStep join(const NodeSighting& n, const std::string& why) {
  MembershipStep step;
  step.kind = MembershipStep::Kind::command;
  step.command.set_schema_version(1);
  auto* m = step.command.mutable_join();
  m->set_node(n.node);
  m->set_address(n.address);
  m->set_incarnation(n.incarnation);
  step.why = why;
  return step;
}

MembershipStep command_on(uint64_t node, bool dead, const std::string& why) {
  MembershipStep step;
  step.kind = MembershipStep::Kind::command;
  step.command.set_schema_version(1);
  if (dead) {
    step.command.set_mark_dead(node);
  } else {
    step.command.set_mark_alive(node);
  }
  step.why = why;
  return step;
}

MembershipStep membership_change(raft::ConfChangeType type, raft::NodeId node,
                                 const std::string& why) {
  MembershipStep step;
  step.kind = MembershipStep::Kind::conf_change;
  step.change = raft::ConfChange{type, node};
  step.why = why;
  return step;
}

}  // namespace

MembershipStep next_step(const ClusterMap& map, const MetadataGroupView& group,
                         const NodeSighting& self, const std::vector<NodeSighting>& peers,
                         const MembershipPlannerOptions& options) {
  if (!group.leader) return {};
  if (!in_map_as(map, self)) {
    return join(self, "node " + std::to_string(self.node) + " records itself in the cluster map");
  }
  std::vector<NodeSighting> live;
  for (const auto& p : peers) {
    if (p.live && p.node != 0 && p.node != self.node && !p.address.empty()) live.push_back(p);
  }
  std::sort(live.begin(), live.end(),
            [](const NodeSighting& a, const NodeSighting& b) { return a.node < b.node; });
  for (const auto& p : live) {
    if (!in_map_as(map, p)) {
      return join(p, "node " + std::to_string(p.node) + " (incarnation " +
                         std::to_string(p.incarnation) + ") joins the cluster map");
    }
  }
  for (const auto& p : peers) {
    const pb::ClusterMember* m = map.member(p.node);
    if (m == nullptr || p.node == self.node) continue;
    if (p.dead && !m->dead() && p.incarnation >= m->incarnation()) {
      return command_on(p.node, true, "node " + std::to_string(p.node) + " is dead");
    }
    if (p.live && m->dead()) {
      return command_on(p.node, false, "node " + std::to_string(p.node) + " is alive again");
    }
  }
  if (group.conf_change_pending) return {};
  for (const auto& m : map.members()) {  // ascending ids
    if (m.dead()) continue;
    if (!raft::is_voter(group.conf, m.node()) && !raft::is_learner(group.conf, m.node())) {
      return membership_change(
          raft::ConfChangeType::add_learner, m.node(),
          "node " + std::to_string(m.node()) + " becomes a learner of the metadata group");
    }
  }
  auto dead = [&](raft::NodeId n) {
    const pb::ClusterMember* m = map.member(n);
    return m != nullptr && m->dead();
  };
  size_t working_voters = 0;
  for (raft::NodeId v : group.conf.voters) working_voters += dead(v) ? 0 : 1;
  if (working_voters < options.voters) {
    for (raft::NodeId learner : group.conf.learners) {  // sorted ascending
      const bool is_live = learner == self.node ||
                           std::any_of(live.begin(), live.end(),
                                       [&](const NodeSighting& p) { return p.node == learner; });
      auto it = group.match.find(learner);
      if (!is_live || it == group.match.end()) continue;
      if (it->second + options.catch_up_lag < group.last_index) continue;
      return membership_change(
          raft::ConfChangeType::add_voter, learner,
          "node " + std::to_string(learner) + " has caught up and becomes voter " +
              std::to_string(working_voters + 1) + " of " + std::to_string(options.voters));
    }
  }
  if (options.place_shards && !map.has_shards() &&
      working_voters >= std::min<size_t>(options.voters, map.members().size())) {
    // The first placement waits for replication_factor live members, so no shard starts with
    // fewer replicas than it should have (adding replicas later is the rebalancer's work).
    size_t live_members = map.live_nodes().size();
    if (live_members >= map.replication_factor()) {
      MembershipStep step;
      step.kind = MembershipStep::Kind::command;
      step.command.set_schema_version(1);
      step.command.set_create_shards(map.shard_count());
      step.why = "the " + std::to_string(map.shard_count()) + " shards are placed over " +
                 std::to_string(live_members) + " live members";
      return step;
    }
  }
  if (group.conf.voters.size() > options.voters) {
    for (raft::NodeId v : group.conf.voters) {
      if (dead(v) && v != self.node) {
        return membership_change(
            raft::ConfChangeType::remove_node, v,
            "dead node " + std::to_string(v) + " leaves the metadata group's voters");
      }
    }
    // A replaced voter came back before it was removed: one voter too many, the highest id goes
    // back to learning.
    for (auto it = group.conf.voters.rbegin(); it != group.conf.voters.rend(); ++it) {
      if (*it != self.node) {
        return membership_change(raft::ConfChangeType::add_learner, *it,
                                 "node " + std::to_string(*it) + " steps back to learner (" +
                                     std::to_string(group.conf.voters.size()) + " voters, " +
                                     std::to_string(options.voters) + " wanted)");
      }
    }
  }
  return {};
}

bool founds_cluster(const std::vector<std::string>& seeds, const std::string& advertise) {
  return seeds.empty() || seeds.front() == advertise;
}

}  // namespace nca::metadata
