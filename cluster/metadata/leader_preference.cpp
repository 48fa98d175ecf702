#include "cluster/metadata/leader_preference.hpp"

#include <algorithm>

#include "cluster/raft/conf_change.hpp"

namespace nca::metadata {

uint64_t preferred_leader(const pb::ShardAssignment& a) {
  if (std::find(a.replicas().begin(), a.replicas().end(), a.leader_hint()) != a.replicas().end()) {
    return a.leader_hint();
  }
  return a.replicas_size() > 0 ? a.replicas(0) : 0;
}

uint64_t hand_over_target(const ClusterMap& map, const pb::ShardAssignment& a,
                          const cluster::RaftHost::GroupView& view, uint64_t self,
                          const std::function<bool(uint64_t node)>& settled) {
  const uint64_t preferred = preferred_leader(a);
  if (preferred == 0 || preferred == self || !view.leader ||
      !raft::is_voter(view.conf, preferred)) {
    return 0;
  }
  const auto* member = map.member(preferred);
  if (member == nullptr || member->dead()) return 0;
  if (settled && !settled(preferred)) return 0;
  auto match = view.match.find(preferred);
  if (match == view.match.end() || match->second < view.last_index) return 0;
  return preferred;
}

}  // namespace nca::metadata
