// cluster_readiness: /ready's cluster check says ok only for a joined node whose metadata group and
// replicated shards all have leaders, and names what it waits for otherwise.
#include "http/cluster_readiness.hpp"

#include <gtest/gtest.h>

namespace nca::http {
namespace {

pb::ClusterStatusReply joined() {
  pb::ClusterStatusReply s;
  s.set_node(7);
  s.add_members()->set_node(3);
  s.add_members()->set_node(7);
  s.set_metadata_leader(3);
  return s;
}

TEST(ClusterReadiness, JoinedWithLeadersIsReady) {
  EXPECT_EQ(cluster_readiness(joined()), "ok");
  auto s = joined();
  auto* shard = s.add_shards();
  shard->set_shard(4);
  shard->set_hosted(true);
  shard->set_leader(3);
  shard->add_replicas(3);
  shard->add_replicas(7);
  shard->set_caught_up(true);
  auto* leaving = s.add_shards();  // moved away, not dropped yet: not waited for
  leaving->set_shard(6);
  leaving->set_hosted(true);
  leaving->set_leader(3);
  leaving->add_replicas(3);
  auto* elsewhere = s.add_shards();
  elsewhere->set_shard(5);  // not replicated here: its leader is not this node's business
  EXPECT_EQ(cluster_readiness(s), "ok");
}

TEST(ClusterReadiness, NamesWhatItWaitsFor) {
  pb::ClusterStatusReply alone;
  alone.set_node(7);
  EXPECT_EQ(cluster_readiness(alone), "not in the cluster map yet (joining)");
  auto s = joined();
  s.set_metadata_leader(0);
  EXPECT_EQ(cluster_readiness(s), "no metadata leader known");
  s = joined();
  auto* shard = s.add_shards();
  shard->set_shard(9);
  shard->set_hosted(true);
  EXPECT_EQ(cluster_readiness(s), "shard 9 has no leader yet");
  // A shard this node just received is not ready until its copy has caught up.
  shard->set_leader(3);
  shard->add_replicas(7);
  shard->set_role("learner");
  shard->set_applied_index(10);
  shard->set_commit_index(900);
  EXPECT_EQ(cluster_readiness(s), "shard 9 is catching up (learner, applied 10 of 900)");
  shard->set_role("voter");
  shard->set_applied_index(900);
  shard->set_caught_up(true);
  EXPECT_EQ(cluster_readiness(s), "ok");
}

}  // namespace
}  // namespace nca::http
