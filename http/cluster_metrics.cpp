#include "http/cluster_metrics.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

namespace nca::http {
namespace {

MetricFamily gauge(std::string name, std::string help) {
  return MetricFamily{std::move(name), MetricType::gauge, std::move(help), {}};
}

bool replicates(const pb::ShardStatus& s, uint64_t node) {
  return std::find(s.replicas().begin(), s.replicas().end(), node) != s.replicas().end();
}

}  // namespace

std::vector<MetricFamily> cluster_families(const pb::ClusterStatusReply& status) {
  std::vector<MetricFamily> out;

  std::map<std::string, double> members = {{"alive", 0}, {"dead", 0}, {"draining", 0}};
  for (const auto& m : status.members()) {
    members[m.dead() ? "dead" : m.draining() ? "draining" : "alive"] += 1;
  }
  auto member_family = gauge("nca_cluster_members",
                             "Members of the cluster by state, as this node's copy of the cluster "
                             "map has them (draining: being decommissioned).");
  for (const auto& [state, n] : members) member_family.add({{"state", state}}, n);
  out.push_back(std::move(member_family));
  out.push_back(single("nca_cluster_metadata_has_leader", MetricType::gauge,
                       "1 when this node knows a leader of the metadata group, else 0.",
                       status.metadata_leader() != 0 ? 1 : 0));

  std::map<std::string, double> peers = {
      {"alive", 0}, {"suspected", 0}, {"dead", 0}, {"unknown", 0}};
  double linked = 0;
  for (const auto& p : status.peers()) {
    peers[p.state().empty() ? "unknown" : p.state()] += 1;
    if (p.linked()) linked += 1;
  }
  auto peer_family =
      gauge("nca_cluster_peers", "Other nodes this node knows, by its failure detector's state.");
  for (const auto& [state, n] : peers) peer_family.add({{"state", state}}, n);
  out.push_back(std::move(peer_family));
  out.push_back(single("nca_cluster_peers_linked", MetricType::gauge,
                       "Peers with a link up (a handshake succeeded).", linked));

  const auto& t = status.traffic();
  const struct {
    const char* name;
    const char* help;
    uint64_t value;
  } kTraffic[] = {
      {"nca_peer_frames_sent_total",
       "Messages sent to peers: Raft batches, membership messages, heartbeats and forwarded "
       "client requests.",
       t.frames_sent()},
      {"nca_peer_frames_received_total", "Messages accepted from peers (as sent, above).",
       t.frames_received()},
      {"nca_peer_frames_dropped_total",
       "Messages dropped: no link, a partition rule, or a stale incarnation.", t.frames_dropped()},
      {"nca_peer_frames_refused_total",
       "Handshakes refused (a wrong join secret) and messages from a sender that had not "
       "authenticated as the node it named.",
       t.frames_refused()},
      {"nca_peer_dials_failed_total", "Connects or handshakes of this node that linked nothing.",
       t.dials_failed()},
  };
  for (const auto& c : kTraffic) {
    out.push_back(single(c.name, MetricType::counter, c.help, static_cast<double>(c.value)));
  }

  // Without this node's view of its shards, zeros would read as "all is well": leave them out
  // (the scrape reports the reason as an error, http/node_metrics.cpp).
  if (!status.shards_unavailable().empty()) return out;
  double hosted = 0, led = 0, leaderless = 0, catching_up = 0;
  auto replication_lag = gauge("nca_shard_replication_lag_entries",
                               "On the shard's leader: how many entries the furthest replica is "
                               "behind the end of the log.");
  auto apply_lag = gauge("nca_shard_apply_lag_entries",
                         "Committed entries of the shard this replica has not applied yet.");
  for (const auto& s : status.shards()) {
    if (!s.hosted()) continue;
    hosted += 1;
    const std::string shard = std::to_string(s.shard());
    if (s.leader() == 0) leaderless += 1;
    if (s.leader() == status.node()) {
      led += 1;
      replication_lag.add({{"shard", shard}}, static_cast<double>(s.lag()));
    }
    if (replicates(s, status.node()) && !s.caught_up()) catching_up += 1;
    const uint64_t behind =
        s.commit_index() > s.applied_index() ? s.commit_index() - s.applied_index() : 0;
    apply_lag.add({{"shard", shard}}, static_cast<double>(behind));
  }
  out.push_back(single("nca_shards_hosted", MetricType::gauge,
                       "Shards whose Raft group runs on this node.", hosted));
  out.push_back(single("nca_shards_led", MetricType::gauge, "Hosted shards this node leads.", led));
  out.push_back(single("nca_shards_without_leader", MetricType::gauge,
                       "Hosted shards with no leader known to this node: their writes fail "
                       "until one is elected.",
                       leaderless));
  out.push_back(single("nca_shards_catching_up", MetricType::gauge,
                       "Hosted shards this node replicates whose copy has not caught up with the "
                       "commit index (the node is not ready meanwhile).",
                       catching_up));
  out.push_back(std::move(replication_lag));
  out.push_back(std::move(apply_lag));
  return out;
}

}  // namespace nca::http
