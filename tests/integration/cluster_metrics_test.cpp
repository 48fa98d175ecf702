// /metrics of real cluster nodes: once three nodes have formed a cluster, every shard is led by
// exactly one of them (the nodes' nca_shards_led add up to the shard count), none is leaderless,
// each node sees its two peers alive, and the Raft host and the transport have counted their work.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>

#include "runtime/httplib.hpp"
#include "tests/integration/local_cluster_util.hpp"

namespace nca::testing {
namespace {

// The HTTP port node i logged ("nca-node http on 127.0.0.1:P"), once it has.
std::optional<int> http_port(const LocalCluster& c, int i) {
  std::ifstream in(c.log_path(i));
  std::string line;
  static const std::regex kLine(R"(nca-node http on 127\.0\.0\.1:(\d+))");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, kLine)) return std::stoi(m[1]);
  }
  return std::nullopt;
}

// The unlabelled samples and those with one label of node i's /metrics, by their text before the
// value ("nca_shards_led", "nca_cluster_peers{state=\"alive\"}"); empty when it does not answer.
std::map<std::string, double> scrape(const LocalCluster& c, int i) {
  auto port = http_port(c, i);
  if (!port) return {};
  httplib::Client client("127.0.0.1", *port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  auto r = client.Get("/metrics");
  if (!r || r->status != 200) return {};
  std::map<std::string, double> out;
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

double at(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? -1 : it->second;
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
      if (at(f, "nca_cluster_peers{state=\"alive\"}") != 2 ||
          at(f, "nca_cluster_members{state=\"alive\"}") != 3 ||
          at(f, "nca_cluster_metadata_has_leader") != 1 ||
          at(f, "nca_shards_hosted") != kFaultTestShards ||
          at(f, "nca_shards_without_leader") != 0 || at(f, "nca_shards_catching_up") != 0) {
        return false;
      }
      led += at(f, "nca_shards_led");
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
      seen += std::string(" ") + k + "=" + std::to_string(at(f, k));
    }
    seen += "\n";
  }
  ASSERT_TRUE(ok) << seen << c.log_tail(1);
  for (int i = 1; i <= 3; ++i) {
    const auto& f = figures[i];
    EXPECT_GT(at(f, "nca_raft_rounds_total"), 0) << "node " << i;
    EXPECT_GT(at(f, "nca_raft_leader_changes_seen_total"), 0) << "node " << i;
    EXPECT_GT(at(f, "nca_peer_frames_sent_total"), 0) << "node " << i;
    EXPECT_GT(at(f, "nca_peer_frames_received_total"), 0) << "node " << i;
    EXPECT_EQ(at(f, "nca_peer_frames_refused_total"), 0) << "node " << i;
    // Raft's log syncs are durable writes too.
    EXPECT_GT(at(f, "nca_storage_durable_write_duration_seconds_count"), 0) << "node " << i;
  }
}

}  // namespace
}  // namespace nca::testing
