// ShardRoutes: serve only as the caught-up leader, forward to a known leader, refuse otherwise
// with a reason; losing the leadership fences at once.
#include "cluster/routing/shard_routes.hpp"

#include <gtest/gtest.h>

namespace nca::cluster {
namespace {

using Kind = ShardRoutes::Kind;

TEST(ShardRoutesTest, RefusesUntilShardsArePlaced) {
  ShardRoutes routes(7, 4);
  auto r = routes.route(0);
  EXPECT_EQ(r.kind, Kind::refuse);
  EXPECT_NE(r.reason.find("not placed its shards"), std::string::npos) << r.reason;
  routes.set_shard_count(4);
  r = routes.route(0);
  EXPECT_EQ(r.kind, Kind::refuse);
  EXPECT_NE(r.reason.find("no leader"), std::string::npos) << r.reason;
}

TEST(ShardRoutesTest, AMapWithAnotherShardCountIsRefusedWithTheFix) {
  ShardRoutes routes(7, 4);
  routes.set_shard_count(8);
  routes.set_leader(1, 7);
  routes.set_serving(1);
  auto r = routes.route(1);
  EXPECT_EQ(r.kind, Kind::refuse);
  EXPECT_NE(r.reason.find("set cluster.shards=8"), std::string::npos) << r.reason;
}

TEST(ShardRoutesTest, ForwardsToAnotherLeader) {
  ShardRoutes routes(7, 4);
  routes.set_shard_count(4);
  routes.set_leader(2, 9);
  auto r = routes.route(2);
  EXPECT_EQ(r.kind, Kind::forward);
  EXPECT_EQ(r.leader, 9u);
  EXPECT_FALSE(routes.serving(2));
}

TEST(ShardRoutesTest, KnownLeaderIsWhatRaftSaidNotAGuess) {
  ShardRoutes routes(7, 4);
  routes.set_shard_count(4);
  routes.set_replicas(1, {3, 9});
  EXPECT_EQ(routes.route(1).leader, 3u) << "a non-replica guesses the preferred replica";
  EXPECT_EQ(routes.known_leader(1), 0u);
  routes.set_leader(1, 9);
  EXPECT_EQ(routes.known_leader(1), 9u);
  routes.set_leader(1, 0);
  EXPECT_EQ(routes.known_leader(1), 0u);
  EXPECT_EQ(routes.known_leader(3), 0u);
}

TEST(ShardRoutesTest, ServesOnlyOnceCaughtUpAndStopsAtOnceWhenDeposed) {
  ShardRoutes routes(7, 4);
  routes.set_shard_count(4);
  routes.set_leader(3, 7);
  auto r = routes.route(3);
  EXPECT_EQ(r.kind, Kind::refuse) << "a fresh leader has not applied its log yet";
  EXPECT_NE(r.reason.find("still applying"), std::string::npos) << r.reason;
  routes.set_serving(3);
  EXPECT_EQ(routes.route(3).kind, Kind::serve);
  EXPECT_EQ(routes.served(), std::vector<uint32_t>{3});
  // A re-report of the same leadership keeps serving.
  routes.set_leader(3, 7);
  EXPECT_TRUE(routes.serving(3));
  // Deposed: another leader, or none known.
  routes.set_leader(3, 9);
  EXPECT_EQ(routes.route(3).kind, Kind::forward);
  EXPECT_TRUE(routes.served().empty());
  routes.set_leader(3, 7);
  EXPECT_EQ(routes.route(3).kind, Kind::refuse) << "leading again: caught up again first";
  routes.set_serving(3);
  routes.set_leader(3, 0);
  EXPECT_EQ(routes.route(3).kind, Kind::refuse);
  EXPECT_FALSE(routes.serving(3));
}

// Every stretch of serving a shard has a number of its own, so state loaded under one is known
// to be stale under the next; 0 while not serving.
TEST(ShardRoutesTest, EachStretchOfServingHasItsOwnTerm) {
  ShardRoutes routes(7, 4);
  routes.set_shard_count(4);
  EXPECT_EQ(routes.serving_term(1), 0u);
  routes.set_leader(1, 7);
  EXPECT_EQ(routes.serving_term(1), 0u) << "leading, not yet serving";
  routes.set_serving(1);
  const uint64_t first = routes.serving_term(1);
  EXPECT_NE(first, 0u);
  routes.set_serving(1);
  routes.set_leader(1, 7);
  EXPECT_EQ(routes.serving_term(1), first) << "re-reports of the same stretch";
  routes.set_serving(2);
  EXPECT_NE(routes.serving_term(2), first);
  routes.set_leader(1, 9);
  EXPECT_EQ(routes.serving_term(1), 0u);
  routes.set_serving(1);
  EXPECT_NE(routes.serving_term(1), 0u);
  EXPECT_NE(routes.serving_term(1), first) << "serving again is another stretch";
}

TEST(ShardRoutesTest, ANodeThatIsNoReplicaForwardsToAHintElseThePreferredReplica) {
  ShardRoutes routes(7, 4);
  routes.set_shard_count(4);
  routes.set_replicas(1, {3, 4, 5});
  auto r = routes.route(1);
  EXPECT_EQ(r.kind, Kind::forward);
  EXPECT_EQ(r.leader, 3u) << "the preferred replica";
  routes.set_hint(1, 5);
  EXPECT_EQ(routes.route(1).leader, 5u) << "a replica named the leader";
  routes.unreachable(1, 5);
  EXPECT_EQ(routes.route(1).leader, 3u) << "the replica after the unreachable one, wrapping";
  routes.unreachable(1, 3);
  EXPECT_EQ(routes.route(1).leader, 4u);
  routes.unreachable(1, 9);
  EXPECT_EQ(routes.route(1).leader, 4u) << "a node that was not the guess changes nothing";
  // A replica learns the leader from Raft and never guesses.
  routes.set_replicas(2, {7, 4, 5});
  EXPECT_EQ(routes.route(2).kind, Kind::refuse);
  routes.set_leader(2, 4);
  EXPECT_EQ(routes.route(2).leader, 4u);
}

}  // namespace
}  // namespace nca::cluster
