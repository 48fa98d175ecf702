// next_shard_step: a shard's leader carries a map change out one membership change at a time, adds
// before it removes, hands over before it leaves, and reports the shard settled only when the group
// matches the map.
#include "cluster/metadata/shard_reconciler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tests/support/test_seed.hpp"

namespace nca::metadata {
namespace {

pb::ShardAssignment shard(std::vector<uint64_t> replicas, uint64_t epoch, uint64_t settled) {
  pb::ShardAssignment a;
  a.set_shard(5);
  for (uint64_t r : replicas) a.add_replicas(r);
  a.set_leader_hint(replicas.empty() ? 0 : replicas[0]);
  a.set_epoch(epoch);
  a.set_settled_epoch(settled);
  return a;
}

MetadataGroupView group(std::vector<uint64_t> voters, std::vector<uint64_t> learners,
                        raft::Index last = 100) {
  MetadataGroupView g;
  g.leader = true;
  g.conf.voters = voters;
  g.conf.learners = learners;
  g.last_index = last;
  for (uint64_t v : voters) g.match[v] = last;
  for (uint64_t l : learners) g.match[l] = 0;
  return g;
}

bool is(const ShardStep& s, raft::ConfChangeType type, uint64_t node) {
  return s.kind == ShardStep::Kind::conf_change && s.change.type == type && s.change.node == node;
}

TEST(ShardReconcilerTest, AFollowerOrASettledShardHasNothingToDo) {
  auto g = group({1, 2, 3}, {});
  EXPECT_EQ(next_shard_step(shard({1, 2, 3}, 4, 4), g, 1).kind, ShardStep::Kind::none);
  g.leader = false;
  EXPECT_EQ(next_shard_step(shard({1, 2, 4}, 5, 4), g, 1).kind, ShardStep::Kind::none);
  g.leader = true;
  g.conf_change_pending = true;
  EXPECT_EQ(next_shard_step(shard({1, 2, 4}, 5, 4), g, 1).kind, ShardStep::Kind::none);
}

TEST(ShardReconcilerTest, ANewReplicaLearnsCatchesUpAndVotesBeforeTheOldOneLeaves) {
  const auto target = shard({1, 2, 4}, 6, 5);
  auto g = group({1, 2, 3}, {});
  EXPECT_TRUE(is(next_shard_step(target, g, 1), raft::ConfChangeType::add_learner, 4));
  g = group({1, 2, 3}, {4});
  g.match[4] = 50;  // far behind: wait, and remove nobody meanwhile
  EXPECT_EQ(next_shard_step(target, g, 1).kind, ShardStep::Kind::none);
  g.match[4] = 90;
  EXPECT_TRUE(is(next_shard_step(target, g, 1), raft::ConfChangeType::add_voter, 4));
  g = group({1, 2, 3, 4}, {});
  EXPECT_TRUE(is(next_shard_step(target, g, 1), raft::ConfChangeType::remove_node, 3));
  g = group({1, 2, 4}, {});
  EXPECT_EQ(next_shard_step(target, g, 1).kind, ShardStep::Kind::settled);
}

TEST(ShardReconcilerTest, ALeaderThatLeavesHandsOverToACurrentVoterFirst) {
  const auto target = shard({2, 3, 4}, 3, 2);
  auto g = group({1, 2, 3, 4}, {});
  g.match[2] = 99;  // the preferred leader is one entry behind: the next current one is chosen
  auto step = next_shard_step(target, g, 1);
  ASSERT_EQ(step.kind, ShardStep::Kind::transfer) << step.why;
  EXPECT_EQ(step.to, 3u);
  g.match[3] = 99;
  g.match[4] = 99;
  EXPECT_EQ(next_shard_step(target, g, 1).kind, ShardStep::Kind::none) << "nobody current yet";
  // On the new leader, the old one is removed.
  auto on3 = group({1, 2, 3, 4}, {});
  EXPECT_TRUE(is(next_shard_step(target, on3, 3), raft::ConfChangeType::remove_node, 1));
}

TEST(ShardReconcilerTest, AStrayLearnerIsRemoved) {
  auto g = group({1, 2, 3}, {7});
  EXPECT_TRUE(
      is(next_shard_step(shard({1, 2, 3}, 2, 1), g, 1), raft::ConfChangeType::remove_node, 7));
}

// Random maps and groups, the leader's steps applied one by one (learners catch up at once): the
// group always reaches the map, never has fewer voters than min(|old|, |new|) among the map's
// replicas plus leftovers, and the leader never removes itself.
TEST(ShardReconcilerTest, RandomChangesAlwaysConverge) {
  const uint64_t seed = testing::test_seed("shard reconciler changes");
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 300; ++round) {
    auto pick = [&](size_t n) {
      std::vector<uint64_t> all = {1, 2, 3, 4, 5, 6};
      std::shuffle(all.begin(), all.end(), rng);
      all.resize(n);
      return all;
    };
    auto before = pick(1 + rng() % 5);
    auto after = pick(1 + rng() % 5);
    std::sort(before.begin(), before.end());
    const auto target = shard(after, 2, 1);
    auto g = group(before, {});
    uint64_t leader = before[rng() % before.size()];
    bool settled = false;
    for (int step = 0; step < 40 && !settled; ++step) {
      auto s = next_shard_step(target, g, leader);
      switch (s.kind) {
        case ShardStep::Kind::none:
          FAIL() << "seed " << seed << " round " << round << ": stuck at step " << step;
        case ShardStep::Kind::settled:
          settled = true;
          break;
        case ShardStep::Kind::transfer:
          ASSERT_TRUE(raft::is_voter(g.conf, s.to)) << "seed " << seed;
          leader = s.to;
          break;
        case ShardStep::Kind::conf_change: {
          ASSERT_FALSE(s.change.type == raft::ConfChangeType::remove_node &&
                       s.change.node == leader)
              << "seed " << seed << ": the leader removed itself";
          auto next = raft::apply_conf_change(g.conf, s.change);
          ASSERT_TRUE(next.ok()) << "seed " << seed << ": " << s.why;
          const size_t voters_before = g.conf.voters.size();
          g.conf = *next;
          if (s.change.type == raft::ConfChangeType::remove_node) {
            EXPECT_GE(g.conf.voters.size() + 1, voters_before);
            EXPECT_GE(g.conf.voters.size(), std::min(before.size(), after.size()))
                << "seed " << seed << ": removed before the replacement voted";
          }
          g.match[s.change.node] = g.last_index;  // learners catch up at once
          break;
        }
      }
    }
    ASSERT_TRUE(settled) << "seed " << seed << " round " << round;
    std::sort(after.begin(), after.end());
    EXPECT_EQ(g.conf.voters, after) << "seed " << seed << " round " << round;
    EXPECT_TRUE(g.conf.learners.empty());
  }
}

}  // namespace
}  // namespace nca::metadata
