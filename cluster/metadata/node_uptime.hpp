// cluster/metadata/node_uptime.hpp: how long each peer has been up without interruption, as this
// node's failure detector saw it. A shard's leader hands its leadership back to a returning
// preferred replica only once that node has been up for cluster.leader-return-delay: a node that
// has just restarted is still recovering (opening its store, catching up its logs), and leaderships
// handed to it in its first seconds were lost again to elections when its heartbeats lagged.
//
// Contract: observe() takes every sighting of one status round with the time it was taken. A
// node's stretch starts at the first round that sees it live, and ends at a round that sees it not
// live (suspected, dead or unlinked), under another incarnation (a restart), or not at all.
// up_for(node, d, now) is true when the node's current stretch began at least `d` before `now`.
//
// Pure: no clock of its own (times are passed in), no I/O. Not thread-safe: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "cluster/metadata/membership_planner.hpp"

namespace nca::metadata {

class NodeUptime {
 public:
  using Time = std::chrono::steady_clock::time_point;

  void observe(const std::vector<NodeSighting>& sightings, Time now);
  bool up_for(uint64_t node, std::chrono::microseconds d, Time now) const;

 private:
  struct Stretch {
    uint64_t incarnation = 0;
    Time since;
  };
  std::map<uint64_t, Stretch> up_;
};

}  // namespace nca::metadata
