#include "http/cluster_readiness.hpp"

#include <algorithm>

namespace nca::http {

std::string cluster_readiness(const pb::ClusterStatusReply& status) {
  const bool member =
      std::any_of(status.members().begin(), status.members().end(),
                  [&](const pb::ClusterMemberStatus& m) { return m.node() == status.node(); });
  if (!member) return "not in the cluster map yet (joining)";
  if (status.metadata_leader() == 0) return "no metadata leader known";
  for (const auto& s : status.shards()) {
    if (s.hosted() && s.leader() == 0) {
      return "shard " + std::to_string(s.shard()) + " has no leader yet";
    }
    const bool replica =
        std::find(s.replicas().begin(), s.replicas().end(), status.node()) != s.replicas().end();
    // A copy the map moved away is being dropped: it does not hold the node back.
    if (s.hosted() && replica && !s.caught_up()) {
      return "shard " + std::to_string(s.shard()) + " is catching up (" + s.role() + ", applied " +
             std::to_string(s.applied_index()) + " of " + std::to_string(s.commit_index()) + ")";
    }
  }
  return "ok";
}

}  // namespace nca::http
