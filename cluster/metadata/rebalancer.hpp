// cluster/metadata/rebalancer.hpp: the next single change that moves the shard map toward
// balance; the metadata leader proposes it as a set_shard, waits for it to be applied and carried
// out (a new replica caught up as a learner and promoted, a removed one destroyed, a leadership
// transferred), then asks again.
//
// Contract: next_move() is a pure function of the map. Moves come in this order, so safety work
// always goes before balance work:
//   1. a shard with fewer live replicas than it should have (min(rf, live nodes)) gets one on the
//      live node with the fewest replicas that lacks it;
//   2. a replica on a draining node (or a node that left) is removed once the shard has enough
//      live replicas without it, one on a dead node only once the shard has `replication_factor`
//      live ones without it (add before remove: a shard never drops below its size, and a dead
//      replica no live node can replace keeps its vote until the node returns); a shard that
//      loses a draining or departed replica shrinks anyway, and its dead replicas go first;
//   3. a shard with more live replicas than it should have loses the one on the busiest node (a
//      non-leader one among equally busy);
//   4. replicas per live node differing by more than one: the busiest node's replica of some shard
//      the idlest node lacks is added to the idlest node (rule 3 then removes the surplus);
//   5. preferred leaders per live node differing by more than one: the leader hint of one shard
//      moves from the node leading most to its replica leading fewest; a hint on a draining node
//      moves to the live replica leading fewest, one on a dead replica that rule 2 keeps stays.
// Only settled shards move (pb::ShardAssignment::settled_epoch: the shard's group matches its
// last change), so a shard never has two changes under way. Each move carries the shard's next
// epoch. Ties break by lowest shard, then lowest node id, so
// every metadata leader plans the same move. nullopt: balanced (or nothing can be done).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cluster/metadata/cluster_map.hpp"

namespace nca::metadata {

struct Move {
  enum Kind { add_replica, remove_replica, move_leader };
  Kind kind;
  uint32_t shard;
  uint64_t node;             // the replica added or removed, or the new preferred leader
  pb::ShardAssignment next;  // the set_shard to propose
};

std::string to_string(const Move& m);

std::optional<Move> next_move(const ClusterMap& map, uint32_t replication_factor);

}  // namespace nca::metadata
