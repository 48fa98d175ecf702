// Rebalancer: from any membership change, the moves it plans converge to a balanced map, never
// leave a shard below its size, and put nothing on a dead or draining node.
#include "cluster/metadata/rebalancer.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "tests/support/test_seed.hpp"

namespace nca::metadata {
namespace {

pb::MetaCommand join(uint64_t node) {
  pb::MetaCommand c;
  c.set_schema_version(1);
  c.mutable_join()->set_node(node);
  c.mutable_join()->set_incarnation(1);
  c.mutable_join()->set_address("127.0.0.1:" + std::to_string(7400 + node));
  return c;
}

class Planner {
 public:
  Planner(uint32_t shards, uint32_t rf, uint64_t nodes) : map_(shards, rf), rf_(rf) {
    for (uint64_t n = 1; n <= nodes; ++n) apply(join(n));
    pb::MetaCommand c;
    c.set_schema_version(1);
    c.set_create_shards(shards);
    apply(c);
  }

  void apply(const pb::MetaCommand& c) { EXPECT_TRUE(map_.apply(++index_, c).ok()); }
  void flag(uint64_t node, bool dead) {
    pb::MetaCommand c;
    c.set_schema_version(1);
    if (dead) {
      c.set_mark_dead(node);
    } else {
      c.set_drain(node);
    }
    apply(c);
  }

  // Applies planned moves until none is left; returns how many, or -1 if `limit` was hit.
  int settle(int limit = 2000) {
    std::vector<std::string> recent;
    for (int moves = 0; moves < limit; ++moves) {
      auto m = next_move(map_, rf_);
      if (!m) return moves;
      recent.push_back(to_string(*m));
      if (recent.size() > 8) recent.erase(recent.begin());
      if (moves + 1 == limit) {
        std::string tail;
        for (const auto& r : recent) tail += "  " + r + "\n";
        ADD_FAILURE() << "no convergence; last moves:\n" << tail;
      }
      const auto* before = map_.shard(m->shard);
      const int live_before = live_replicas(*before);
      pb::MetaCommand c;
      c.set_schema_version(1);
      *c.mutable_set_shard() = m->next;
      EXPECT_TRUE(map_.apply(++index_, c).ok()) << to_string(*m);
      // Until the shard's leader reports the change carried out, the shard does not move again.
      if (auto again = next_move(map_, rf_)) {
        EXPECT_NE(again->shard, m->shard) << "an unsettled shard moved: " << to_string(*again);
      }
      settle_shard(m->shard);
      const int live_after = live_replicas(*map_.shard(m->shard));
      // Never below the size the shard had (or should have), whatever the move.
      EXPECT_GE(live_after, std::min(live_before, want())) << to_string(*m);
      if (m->kind == Move::add_replica) {
        EXPECT_TRUE(live().count(m->node)) << "added to a node that is not live: " << to_string(*m);
      }
    }
    return -1;
  }

  void settle_shard(uint32_t shard) {
    pb::MetaCommand c;
    c.set_schema_version(1);
    c.mutable_shard_settled()->set_shard(shard);
    c.mutable_shard_settled()->set_epoch(map_.shard(shard)->epoch());
    EXPECT_TRUE(map_.apply(++index_, c).ok());
  }

  // Replicas per node within one of each other, every shard at its size on live nodes only, and
  // preferred leaders within one of each other when `strict_leaders` (else only as good as moving
  // hints among each shard's own replicas can make it: next_move() has nothing left).
  void expect_balanced(bool strict_leaders = true) {
    std::map<uint64_t, int> replicas, leaders;
    for (uint64_t n : live()) replicas[n] = leaders[n] = 0;
    for (uint32_t s = 0; s < map_.shard_count(); ++s) {
      const auto& a = *map_.shard(s);
      int live_replicas = 0;
      for (uint64_t r : a.replicas()) {
        if (live().count(r)) {
          ++live_replicas;
          ++replicas[r];
          continue;
        }
        // A dead replica stays only while no live node can replace it.
        const auto* m = map_.member(r);
        EXPECT_TRUE(m != nullptr && m->dead() && !m->draining() && want() < static_cast<int>(rf_))
            << "shard " << s << " keeps node " << r;
      }
      EXPECT_EQ(live_replicas, want()) << "shard " << s;
      EXPECT_LE(a.replicas_size(), static_cast<int>(rf_)) << "shard " << s;
      const auto* hinted = map_.member(a.leader_hint());
      EXPECT_TRUE(live().count(a.leader_hint()) ||
                  (hinted != nullptr && hinted->dead() && !hinted->draining()))
          << "shard " << s << " prefers node " << a.leader_hint();
      ++leaders[a.leader_hint()];
    }
    auto spread = [](const std::map<uint64_t, int>& m) {
      int lo = 1 << 30, hi = -1;
      for (const auto& [k, v] : m) lo = std::min(lo, v), hi = std::max(hi, v);
      return hi - lo;
    };
    EXPECT_LE(spread(replicas), 1);
    if (strict_leaders) {
      EXPECT_LE(spread(leaders), 1);
    }
    EXPECT_EQ(next_move(map_, rf_), std::nullopt);
  }

  ClusterMap& map() { return map_; }

  // Whether every shard keeps a majority of its replicas alive if `node` dies.
  bool survives_death_of(uint64_t node) const {
    for (uint32_t s = 0; s < map_.shard_count(); ++s) {
      const auto& a = *map_.shard(s);
      int alive = 0;
      for (uint64_t r : a.replicas()) {
        const auto* m = map_.member(r);
        alive += (r != node && m != nullptr && !m->dead()) ? 1 : 0;
      }
      if (alive < a.replicas_size() / 2 + 1) return false;
    }
    return true;
  }

 private:
  std::set<uint64_t> live() const {
    auto l = map_.live_nodes();
    return {l.begin(), l.end()};
  }
  int want() const { return static_cast<int>(std::min<size_t>(rf_, map_.live_nodes().size())); }
  int live_replicas(const pb::ShardAssignment& a) const {
    int n = 0;
    auto l = live();
    for (uint64_t r : a.replicas()) n += l.count(r) ? 1 : 0;
    return n;
  }

  ClusterMap map_;
  uint32_t rf_;
  uint64_t index_ = 0;
};

TEST(RebalancerTest, AFreshMapNeedsNothing) {
  Planner p(64, 3, 3);
  EXPECT_EQ(next_move(p.map(), 3), std::nullopt);
  p.expect_balanced();
}

TEST(RebalancerTest, JoiningNodesReceiveShardsUntilBalanced) {
  Planner p(64, 3, 3);
  p.apply(join(4));
  const int moves = p.settle();
  ASSERT_GT(moves, 0);
  p.expect_balanced();
  p.apply(join(5));
  p.apply(join(6));
  ASSERT_GT(p.settle(), 0);
  p.expect_balanced();
}

TEST(RebalancerTest, DeadAndDrainingNodesAreEmptied) {
  Planner p(32, 3, 5);
  p.flag(2, /*dead=*/true);
  ASSERT_GT(p.settle(), 0);
  p.expect_balanced();
  p.flag(4, /*dead=*/false);  // decommission
  ASSERT_GT(p.settle(), 0);
  p.expect_balanced();
  // A member that holds nothing can now leave.
  pb::MetaCommand leave;
  leave.set_schema_version(1);
  leave.set_leave(4);
  EXPECT_TRUE(p.map().apply(10'000, leave).ok());
}

TEST(RebalancerTest, ASingleNodeClusterGrowsToFullReplication) {
  Planner p(16, 3, 1);
  p.expect_balanced();
  p.apply(join(2));
  p.apply(join(3));
  ASSERT_GT(p.settle(), 0);
  p.expect_balanced();
}

// Found by the soak (bench/soak_bench.cpp): with a shard down to two replicas (node 2 drained), a
// death must not make the rebalancer remove the dead replica. The removal needs a majority of the
// two voters, one of which is the node being removed: it never commits, and the removed node, no
// longer listed, never hosts the group again to vote it through.
TEST(RebalancerTest, NeverPlansARemovalTheGroupCannotCommit) {
  Planner p(4, 3, 3);
  p.flag(2, /*dead=*/false);  // drain
  ASSERT_GT(p.settle(), 0);
  for (uint32_t s = 0; s < 4; ++s) ASSERT_EQ(p.map().shard(s)->replicas_size(), 2);
  p.flag(3, /*dead=*/true);
  // Shards {1, 3}: one voter of two alive. Nothing can commit; nothing is planned.
  auto m = next_move(p.map(), 3);
  EXPECT_EQ(m, std::nullopt) << to_string(*m);
  // Node 3 comes back (a new incarnation joins): the shards have their majority again and grow
  // back once node 2 is recommissioned.
  auto back = join(3);
  back.mutable_join()->set_incarnation(2);
  p.apply(back);
  EXPECT_EQ(next_move(p.map(), 3), std::nullopt) << "two live replicas of two: nothing to do";
  pb::MetaCommand undrain;
  undrain.set_schema_version(1);
  undrain.set_undrain(2);
  p.apply(undrain);
  ASSERT_GT(p.settle(), 0);
  p.expect_balanced(/*strict_leaders=*/false);
}

// Three nodes, three replicas: a dead node's replicas have nowhere to go, so they keep their votes
// (a group of three with one dead voter survives what one of two would, and the node's return is a
// catch-up from the log, not a copy), and the shards it is preferred to lead wait for it: a death
// plans nothing. A node that joins then takes its replicas over, and the dead ones go.
TEST(RebalancerTest, ADeadReplicaNoLiveNodeCanReplaceKeepsItsVote) {
  Planner p(6, 3, 3);
  std::map<uint32_t, uint64_t> hints;
  for (uint32_t s = 0; s < 6; ++s) hints[s] = p.map().shard(s)->leader_hint();
  p.flag(2, /*dead=*/true);
  auto m = next_move(p.map(), 3);
  EXPECT_EQ(m, std::nullopt) << to_string(*m);
  for (uint32_t s = 0; s < 6; ++s) {
    const auto& a = *p.map().shard(s);
    EXPECT_EQ(a.replicas_size(), 3) << "shard " << s << " lost its dead replica";
    EXPECT_EQ(a.leader_hint(), hints[s]) << "shard " << s;
  }
  p.expect_balanced(/*strict_leaders=*/false);
  p.apply(join(4));
  ASSERT_GT(p.settle(), 0);
  for (uint32_t s = 0; s < 6; ++s) {
    for (uint64_t r : p.map().shard(s)->replicas()) {
      EXPECT_NE(r, 2u) << "shard " << s << " kept the dead replica with node 4 to replace it";
    }
  }
  p.expect_balanced();
}

// A shard that loses a draining replica while another is dead sheds the dead one first: the other
// order would leave it with one live voter of two, unable to commit anything again.
TEST(RebalancerTest, AShrinkingShardShedsItsDeadReplicasFirst) {
  Planner p(4, 3, 3);
  p.flag(3, /*dead=*/true);
  p.flag(2, /*dead=*/false);  // drain
  ASSERT_GE(p.settle(), 0);
  for (uint32_t s = 0; s < 4; ++s) {
    const auto& a = *p.map().shard(s);
    ASSERT_EQ(a.replicas_size(), 1) << "shard " << s;
    EXPECT_EQ(a.replicas(0), 1u) << "shard " << s;
  }
}

// A draining node still votes: its replicas move away even when another replica is dead.
TEST(RebalancerTest, ADrainingReplicaCountsForTheMajorityOfItsRemoval) {
  Planner p(4, 3, 4);
  p.flag(4, /*dead=*/false);  // drain node 4 (holds replicas of some shards)
  p.flag(3, /*dead=*/true);
  ASSERT_GE(p.settle(), 0);
  for (uint32_t s = 0; s < 4; ++s) {
    for (uint64_t r : p.map().shard(s)->replicas()) {
      EXPECT_NE(r, 4u) << "shard " << s << " kept the draining node";
    }
  }
}

TEST(RebalancerTest, RandomMembershipHistoriesAlwaysSettle) {
  const uint64_t seed = testing::test_seed("rebalancer histories");
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    Planner p(1 + rng() % 48, 1 + rng() % 3, 1 + rng() % 5);
    uint64_t next_node = 10;
    for (int change = 0; change < 6; ++change) {
      const auto live = p.map().live_nodes();
      const uint64_t victim = live.empty() ? 0 : live[rng() % live.size()];
      const bool dead = rng() % 2 == 0;
      // A death that leaves some shard without a live majority stalls that shard until the node
      // comes back (NeverPlansARemovalTheGroupCannotCommit); these histories never bring nodes
      // back, so they kill only where every shard keeps its majority.
      if (rng() % 2 == 0 || live.size() <= 1 || (dead && !p.survives_death_of(victim))) {
        p.apply(join(next_node++));
      } else {
        p.flag(victim, dead);
      }
      ASSERT_GE(p.settle(), 0) << "round " << round << " change " << change;
      // Leader balance after arbitrary histories is best effort (docs/cluster.md).
      p.expect_balanced(/*strict_leaders=*/false);
    }
  }
}

}  // namespace
}  // namespace nca::metadata
