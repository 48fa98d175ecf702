// Membership planner: the metadata leader records itself and every live linked node in the cluster
// map, makes every member a learner of the metadata group, and promotes caught-up learners until
// the group has `voters` voters, one step at a time; a follower plans nothing.
#include "cluster/metadata/membership_planner.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/support/test_seed.hpp"

namespace nca::metadata {
namespace {

NodeSighting node(uint64_t id, uint64_t incarnation = 1, bool live = true) {
  return NodeSighting{id, incarnation, "127.0.0.1:" + std::to_string(7000 + id), live};
}

// A leader and its group, driven by the planner's steps as the actor would carry them out: commands
// go to the map, membership changes to the group's configuration; learners catch up at once.
class Cluster {
 public:
  explicit Cluster(uint64_t self) : map_(8, 3), self_(node(self)) {
    group_.leader = true;
    group_.conf.voters = {self};
    group_.last_index = 1;
    group_.match[self] = 1;
  }

  MembershipStep step(const std::vector<NodeSighting>& peers, size_t voters = 3) {
    MembershipPlannerOptions o;
    o.voters = voters;
    o.place_shards = place_shards_;
    return next_step(map_, group_, self_, peers, o);
  }

  // Runs steps until none is left; the number of steps, or -1 past `limit`.
  int settle(const std::vector<NodeSighting>& peers, size_t voters = 3, int limit = 100) {
    for (int n = 0; n < limit; ++n) {
      MembershipStep s = step(peers, voters);
      if (s.kind == MembershipStep::Kind::none) return n;
      carry_out(s);
    }
    return -1;
  }

  void carry_out(const MembershipStep& s) {
    ++group_.last_index;
    group_.match[self_.node] = group_.last_index;
    if (s.kind == MembershipStep::Kind::command) {
      EXPECT_TRUE(map_.apply(group_.last_index, s.command).ok());
    } else {
      auto next = raft::apply_conf_change(group_.conf, s.change);
      ASSERT_TRUE(next.ok()) << next.error().message;
      group_.conf = *next;
      group_.match[s.change.node] = group_.last_index;  // catches up at once
    }
  }

  ClusterMap map_;
  bool place_shards_ = true;
  MetadataGroupView group_;
  NodeSighting self_;
};

TEST(MembershipPlanner, FollowersPlanNothing) {
  Cluster c(1);
  c.group_.leader = false;
  EXPECT_EQ(c.step({node(2)}).kind, MembershipStep::Kind::none);
}

TEST(MembershipPlanner, FounderRecordsItselfFirst) {
  Cluster c(5);
  MembershipStep s = c.step({node(2)});
  ASSERT_EQ(s.kind, MembershipStep::Kind::command);
  ASSERT_TRUE(s.command.has_join());
  EXPECT_EQ(s.command.join().node(), 5u);
  c.carry_out(s);
  EXPECT_EQ(c.settle({}), 0) << "alone and recorded: nothing more to do";
}

TEST(MembershipPlanner, NodesJoinBecomeLearnersThenVotersUpToTheLimit) {
  Cluster c(1);
  std::vector<NodeSighting> peers = {node(4), node(2), node(3), node(5)};
  ASSERT_GE(c.settle(peers), 0);
  EXPECT_EQ(c.map_.members().size(), 5u);
  EXPECT_EQ(c.group_.conf.voters, (std::vector<raft::NodeId>{1, 2, 3}))
      << "three voters, lowest ids first";
  EXPECT_EQ(c.group_.conf.learners, (std::vector<raft::NodeId>{4, 5}));
  // With five wanted, the learners are promoted too.
  ASSERT_GE(c.settle(peers, 5), 0);
  EXPECT_EQ(c.group_.conf.voters.size(), 5u);
}

TEST(MembershipPlanner, OneStepAtATimeAndNothingWhileAChangeIsPending) {
  Cluster c(1);
  c.carry_out(c.step({}));  // itself
  MembershipStep s = c.step({node(2)});
  ASSERT_EQ(s.kind, MembershipStep::Kind::command);
  c.carry_out(s);
  s = c.step({node(2)});
  ASSERT_EQ(s.kind, MembershipStep::Kind::conf_change);
  EXPECT_EQ(s.change.type, raft::ConfChangeType::add_learner);
  c.group_.conf_change_pending = true;
  EXPECT_EQ(c.step({node(2)}).kind, MembershipStep::Kind::none);
  // A new node still gets its join while a change is pending: the map is not the group.
  EXPECT_EQ(c.step({node(2), node(3)}).kind, MembershipStep::Kind::command);
}

TEST(MembershipPlanner, ALearnerVotesOnlyOnceCaughtUpAndLive) {
  Cluster c(1);
  ASSERT_GE(c.settle({node(2)}, 1), 0);  // one voter wanted: 2 stays a learner
  ASSERT_EQ(c.group_.conf.learners, (std::vector<raft::NodeId>{2}));
  c.group_.last_index = 1000;
  c.group_.match[2] = 10;
  EXPECT_EQ(c.step({node(2)}).kind, MembershipStep::Kind::none) << "far behind";
  c.group_.match[2] = 990;
  EXPECT_EQ(c.step({node(2)}).kind, MembershipStep::Kind::conf_change);
  EXPECT_EQ(c.step({node(2, 1, false)}).kind, MembershipStep::Kind::none) << "not live";
}

TEST(MembershipPlanner, RestartedNodeRejoinsWithItsNewIncarnationAndAddress) {
  Cluster c(1);
  ASSERT_GE(c.settle({node(2)}), 0);
  NodeSighting again = node(2, 7);
  again.address = "127.0.0.1:9999";
  MembershipStep s = c.step({again});
  ASSERT_EQ(s.kind, MembershipStep::Kind::command);
  EXPECT_EQ(s.command.join().incarnation(), 7u);
  EXPECT_EQ(s.command.join().address(), "127.0.0.1:9999");
  ASSERT_GE(c.settle({again}), 0);
  EXPECT_EQ(c.map_.member(2)->incarnation(), 7u);
}

TEST(MembershipPlanner, NodesWithoutAnAddressOrIdAreNotPlanned) {
  Cluster c(1);
  NodeSighting unknown = node(2);
  unknown.address.clear();
  ASSERT_GE(c.settle({unknown, NodeSighting{0, 1, "x:1", true}}), 0);
  EXPECT_EQ(c.map_.members().size(), 1u);
}

NodeSighting dead_node(uint64_t id, uint64_t incarnation = 1) {
  NodeSighting n = node(id, incarnation, false);
  n.dead = true;
  return n;
}

TEST(MembershipPlanner, DeadAndAliveAgainAreRecorded) {
  Cluster c(1);
  ASSERT_GE(c.settle({node(2), node(3)}), 0);
  MembershipStep s = c.step({node(2), dead_node(3)});
  ASSERT_EQ(s.kind, MembershipStep::Kind::command);
  EXPECT_EQ(s.command.mark_dead(), 3u);
  c.carry_out(s);
  EXPECT_TRUE(c.map_.member(3)->dead());
  // Suspected (not live, not dead) changes nothing.
  EXPECT_EQ(c.step({node(2), node(3, 1, false)}).kind, MembershipStep::Kind::none);
  s = c.step({node(2), node(3)});
  ASSERT_EQ(s.kind, MembershipStep::Kind::command);
  EXPECT_EQ(s.command.mark_alive(), 3u);
  c.carry_out(s);
  EXPECT_FALSE(c.map_.member(3)->dead());
  // A dead sighting of an older incarnation than the map's is stale: nothing.
  ASSERT_GE(c.settle({node(2), node(3, 4)}), 0);
  EXPECT_EQ(c.step({node(2), dead_node(3, 2)}).kind, MembershipStep::Kind::none);
}

// Three voters and a learner; a voter dies: the learner becomes a voter first (four, one dead, so
// a majority is still there), then the dead one is removed; it comes back as a learner.
TEST(MembershipPlanner, DeadVoterIsReplacedBeforeItIsRemoved) {
  Cluster c(1);
  ASSERT_GE(c.settle({node(2), node(3), node(4)}), 0);
  ASSERT_EQ(c.group_.conf.voters, (std::vector<raft::NodeId>{1, 2, 3}));
  std::vector<NodeSighting> two_dead = {dead_node(2), node(3), node(4)};
  c.carry_out(c.step(two_dead));  // mark_dead(2)
  MembershipStep s = c.step(two_dead);
  ASSERT_EQ(s.kind, MembershipStep::Kind::conf_change);
  EXPECT_EQ(s.change.type, raft::ConfChangeType::add_voter);
  EXPECT_EQ(s.change.node, 4u);
  c.carry_out(s);
  s = c.step(two_dead);
  ASSERT_EQ(s.kind, MembershipStep::Kind::conf_change);
  EXPECT_EQ(s.change.type, raft::ConfChangeType::remove_node);
  EXPECT_EQ(s.change.node, 2u);
  c.carry_out(s);
  EXPECT_EQ(c.group_.conf.voters, (std::vector<raft::NodeId>{1, 3, 4}));
  ASSERT_GE(c.settle({node(2, 2), node(3), node(4)}), 0);  // back, restarted
  EXPECT_EQ(c.group_.conf.learners, (std::vector<raft::NodeId>{2}));
  EXPECT_FALSE(c.map_.member(2)->dead());
}

TEST(MembershipPlanner, ADeadVoterWithoutReplacementKeepsItsVote) {
  Cluster c(1);
  ASSERT_GE(c.settle({node(2), node(3)}), 0);
  ASSERT_GE(c.settle({dead_node(2), node(3)}), 0);
  EXPECT_EQ(c.group_.conf.voters, (std::vector<raft::NodeId>{1, 2, 3}));
}

TEST(MembershipPlanner, ShardsArePlacedOnceReplicationFactorMembersAreLive) {
  Cluster c(1);
  ASSERT_GE(c.settle({node(2)}), 0);
  EXPECT_FALSE(c.map_.has_shards()) << "two members, three replicas wanted";
  ASSERT_GE(c.settle({node(2), node(3)}), 0);
  ASSERT_TRUE(c.map_.has_shards());
  for (uint32_t s = 0; s < c.map_.shard_count(); ++s) {
    EXPECT_EQ(c.map_.shard(s)->replicas_size(), 3) << "shard " << s;
  }
  EXPECT_EQ(c.step({node(2), node(3), node(4)}).command.has_create_shards(), false)
      << "placed once";
}

TEST(MembershipPlanner, AStandaloneNodePlacesNoShards) {
  Cluster c(1);
  c.place_shards_ = false;
  ASSERT_GE(c.settle({node(2), node(3)}), 0);
  EXPECT_FALSE(c.map_.has_shards());
  c.place_shards_ = true;
  ASSERT_GE(c.settle({node(2), node(3)}), 0);
  EXPECT_TRUE(c.map_.has_shards()) << "the same members place them when allowed";
}

TEST(MembershipPlanner, ExactlyOneFounderWhateverTheSeedLists) {
  EXPECT_TRUE(founds_cluster({}, "10.0.0.1:7420")) << "no seeds: start a cluster";
  // The local-cluster layout: the others name the first node.
  EXPECT_FALSE(founds_cluster({"10.0.0.1:7420"}, "10.0.0.2:7420"));
  // The compose and Kubernetes layout: every node lists every node; the first seed founds.
  const std::vector<std::string> all = {"nca-1:7420", "nca-2:7420", "nca-3:7420"};
  int founders = 0;
  for (const auto& self : all) founders += founds_cluster(all, self) ? 1 : 0;
  EXPECT_EQ(founders, 1);
  EXPECT_TRUE(founds_cluster(all, "nca-1:7420"));
}

// Random arrivals, restarts and silences: the plan always settles, never adds a voter that is not
// a live member, and ends with min(voters, live members) voters.
TEST(MembershipPlanner, RandomHistoriesSettle) {
  const uint64_t seed = testing::test_seed("membership planner histories");
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    Cluster c(1);
    std::map<uint64_t, NodeSighting> seen;
    for (int event = 0; event < 30; ++event) {
      uint64_t id = 2 + rng() % 6;
      auto it = seen.find(id);
      if (it == seen.end()) {
        seen[id] = node(id);
      } else if (rng() % 3 == 0) {
        it->second.incarnation++;
        it->second.live = true;
        it->second.dead = false;
      } else if (rng() % 2 == 0) {
        it->second.live = !it->second.live;
        it->second.dead = false;
      } else {
        it->second.live = false;
        it->second.dead = true;
      }
      std::vector<NodeSighting> peers;
      for (auto& [n, s] : seen) peers.push_back(s);
      ASSERT_GE(c.settle(peers), 0) << "seed " << seed << " round " << round;
      for (raft::NodeId v : c.group_.conf.voters) {
        ASSERT_NE(c.map_.member(v), nullptr) << "seed " << seed;
      }
    }
    size_t live = 1;
    std::vector<NodeSighting> peers;
    for (auto& [n, s] : seen) {
      s.live = true;
      s.dead = false;
      peers.push_back(s);
      ++live;
    }
    ASSERT_GE(c.settle(peers), 0);
    EXPECT_EQ(c.group_.conf.voters.size(), std::min<size_t>(3, live)) << "seed " << seed;
  }
}

}  // namespace
}  // namespace nca::metadata
