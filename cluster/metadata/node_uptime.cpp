#include "cluster/metadata/node_uptime.hpp"

namespace nca::metadata {

void NodeUptime::observe(const std::vector<NodeSighting>& sightings, Time now) {
  std::map<uint64_t, Stretch> next;
  for (const auto& s : sightings) {
    if (!s.live) continue;
    auto it = up_.find(s.node);
    if (it != up_.end() && it->second.incarnation == s.incarnation) {
      next[s.node] = it->second;
    } else {
      next[s.node] = Stretch{s.incarnation, now};
    }
  }
  up_ = std::move(next);
}

bool NodeUptime::up_for(uint64_t node, std::chrono::microseconds d, Time now) const {
  auto it = up_.find(node);
  return it != up_.end() && now - it->second.since >= d;
}

}  // namespace nca::metadata
