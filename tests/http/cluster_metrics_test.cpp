// cluster_metrics: the cluster's /metrics families say what `nca cluster status` says: members and
// peers by state, what the transport carried, and per shard who leads and how far behind copies
// are; every zero-valued series is present, and promtool accepts the text.
#include "http/cluster_metrics.hpp"

#include <gtest/gtest.h>

#include "tests/http/promtool.hpp"

namespace nca::http {
namespace {

pb::ClusterStatusReply three_nodes() {
  pb::ClusterStatusReply s;
  s.set_node(2);
  s.set_metadata_leader(1);
  for (uint64_t n : {1, 2, 3}) {
    auto* m = s.add_members();
    m->set_node(n);
  }
  s.mutable_members(2)->set_draining(true);
  auto* p1 = s.add_peers();
  p1->set_node(1);
  p1->set_state("alive");
  p1->set_linked(true);
  auto* p3 = s.add_peers();
  p3->set_node(3);
  p3->set_state("suspected");
  auto* t = s.mutable_traffic();
  t->set_frames_sent(10);
  t->set_frames_received(9);
  t->set_frames_dropped(2);
  t->set_frames_refused(1);
  t->set_dials_failed(3);
  auto shard = [&](uint32_t id, uint64_t leader, bool hosted, bool caught_up) {
    auto* sh = s.add_shards();
    sh->set_shard(id);
    sh->set_leader(leader);
    sh->set_hosted(hosted);
    sh->set_caught_up(caught_up);
    sh->add_replicas(1);
    sh->add_replicas(2);
    return sh;
  };
  auto* led = shard(0, 2, true, true);  // led here, one replica 7 entries behind
  led->set_lag(7);
  led->set_commit_index(100);
  led->set_applied_index(100);
  auto* following = shard(1, 1, true, false);  // a follower 40 entries short of applying
  following->set_commit_index(140);
  following->set_applied_index(100);
  shard(2, 0, true, true);    // hosted, no leader known
  shard(3, 1, false, false);  // not replicated here: not counted
  return s;
}

std::string text_of(const pb::ClusterStatusReply& s) { return render_text(cluster_families(s)); }

void expect_promtool_accepts(const std::string& text) {
  auto check = testing::promtool_check(text);
  ASSERT_NE(check.exit_code, -1) << "promtool is missing (Debian package prometheus)";
  EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

TEST(ClusterMetrics, SayWhatTheClusterStatusSays) {
  const std::string text = text_of(three_nodes());
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("nca_cluster_members{state=\"alive\"} 2")) << text;
  EXPECT_TRUE(has("nca_cluster_members{state=\"draining\"} 1"));
  EXPECT_TRUE(has("nca_cluster_members{state=\"dead\"} 0"));
  EXPECT_TRUE(has("nca_cluster_metadata_has_leader 1"));
  EXPECT_TRUE(has("nca_cluster_peers{state=\"alive\"} 1"));
  EXPECT_TRUE(has("nca_cluster_peers{state=\"suspected\"} 1"));
  EXPECT_TRUE(has("nca_cluster_peers{state=\"dead\"} 0"));
  EXPECT_TRUE(has("nca_cluster_peers_linked 1"));
  EXPECT_TRUE(has("nca_peer_frames_sent_total 10"));
  EXPECT_TRUE(has("nca_peer_frames_received_total 9"));
  EXPECT_TRUE(has("nca_peer_frames_dropped_total 2"));
  EXPECT_TRUE(has("nca_peer_frames_refused_total 1"));
  EXPECT_TRUE(has("nca_peer_dials_failed_total 3"));
  EXPECT_TRUE(has("nca_shards_hosted 3"));
  EXPECT_TRUE(has("nca_shards_led 1"));
  EXPECT_TRUE(has("nca_shards_without_leader 1"));
  EXPECT_TRUE(has("nca_shards_catching_up 1"));
  EXPECT_TRUE(has("nca_shard_replication_lag_entries{shard=\"0\"} 7"));
  EXPECT_EQ(text.find("nca_shard_replication_lag_entries{shard=\"1\"}"), std::string::npos)
      << "only the leader knows its followers' lag";
  EXPECT_TRUE(has("nca_shard_apply_lag_entries{shard=\"1\"} 40"));
  EXPECT_TRUE(has("nca_shard_apply_lag_entries{shard=\"0\"} 0"));
  EXPECT_EQ(text.find("shard=\"3\""), std::string::npos) << "shard 3 is not hosted here";
  expect_promtool_accepts(text);
}

TEST(ClusterMetrics, WithoutItsShardViewANodeReportsNoShardFiguresRatherThanZeros) {
  auto s = three_nodes();
  s.set_shards_unavailable("this node's Raft host did not answer: timeout");
  const std::string text = text_of(s);
  for (const char* name : {"nca_shards_hosted", "nca_shards_led", "nca_shards_without_leader",
                           "nca_shards_catching_up", "nca_shard_replication_lag_entries",
                           "nca_shard_apply_lag_entries"}) {
    EXPECT_EQ(text.find(name), std::string::npos) << name << "\n" << text;
  }
  EXPECT_NE(text.find("nca_cluster_peers_linked 1\n"), std::string::npos) << text;
  expect_promtool_accepts(text);
}

TEST(ClusterMetrics, ANodeThatHasNotJoinedReportsZerosNotNothing) {
  pb::ClusterStatusReply alone;
  alone.set_node(5);
  const std::string text = text_of(alone);
  auto has = [&](const std::string& line) { return text.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("nca_cluster_metadata_has_leader 0")) << text;
  EXPECT_TRUE(has("nca_cluster_members{state=\"alive\"} 0"));
  EXPECT_TRUE(has("nca_shards_hosted 0"));
  EXPECT_TRUE(has("nca_shards_without_leader 0"));
  EXPECT_TRUE(has("nca_peer_frames_sent_total 0"));
  expect_promtool_accepts(text);
}

}  // namespace
}  // namespace nca::http
