// /metrics of real cluster nodes: once three nodes have formed a cluster, every shard is led by
// exactly one of them (the nodes' nca_shards_led add up to the shard count), none is leaderless,
// each node sees its two peers alive, and the Raft host and the transport have counted their work.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/integration/local_cluster_util.hpp"
#include "tests/support/metrics_scrape.hpp"

namespace nca::testing {
namespace {

std::map<std::string, double> scrape(const LocalCluster& c, int i) {
  auto port = logged_http_port(c.log_path(i));
  return port ? scrape_metrics(*port) : std::map<std::string, double>{};
}

TEST(ClusterMetrics, ThreeNodesLeadEveryShardOnceAndSeeEachOther) {
  LocalCluster c("cluster-metrics", std::string(kFaultTestArgs) + " --http.listen 127.0.0.1:0");
  auto started = c.run("3");
  ASSERT_EQ(started.exit_code, 0) << started.out;

  std::map<int, std::map<std::string, double>> figures;
  auto formed = [&] {
    double led = 0;
    for (int i = 1; i <= 3; ++i) {
      figures[i] = scrape(c, i);
      const auto& f = figures[i];
      if (sample(f, "nca_cluster_peers{state=\"alive\"}") != 2 ||
          sample(f, "nca_cluster_members{state=\"alive\"}") != 3 ||
          sample(f, "nca_cluster_metadata_has_leader") != 1 ||
          sample(f, "nca_shards_hosted") != kFaultTestShards ||
          sample(f, "nca_shards_without_leader") != 0 || sample(f, "nca_shards_catching_up") != 0) {
        return false;
      }
      led += sample(f, "nca_shards_led");
    }
    return led == kFaultTestShards;
  };
  const bool ok = poll(formed, std::chrono::seconds(60));
  std::string seen;
  for (const auto& [i, f] : figures) {
    seen += "node " + std::to_string(i) + ":";
    for (const char* k :
         {"nca_cluster_peers{state=\"alive\"}", "nca_cluster_members{state=\"alive\"}",
          "nca_shards_hosted", "nca_shards_led", "nca_shards_without_leader",
          "nca_shards_catching_up"}) {
      seen += std::string(" ") + k + "=" + std::to_string(sample(f, k));
    }
    seen += "\n";
  }
  ASSERT_TRUE(ok) << seen << c.log_tail(1);
  for (int i = 1; i <= 3; ++i) {
    const auto& f = figures[i];
    EXPECT_GT(sample(f, "nca_raft_rounds_total"), 0) << "node " << i;
    EXPECT_GT(sample(f, "nca_raft_leader_changes_seen_total"), 0) << "node " << i;
    EXPECT_GT(sample(f, "nca_peer_frames_sent_total"), 0) << "node " << i;
    EXPECT_GT(sample(f, "nca_peer_frames_received_total"), 0) << "node " << i;
    EXPECT_EQ(sample(f, "nca_peer_frames_refused_total"), 0) << "node " << i;
    // Raft's log syncs are durable writes too.
    EXPECT_GT(sample(f, "nca_storage_durable_write_duration_seconds_count"), 0) << "node " << i;
  }
}

}  // namespace
}  // namespace nca::testing
