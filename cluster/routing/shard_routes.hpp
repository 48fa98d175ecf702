// cluster/routing/shard_routes.hpp: which node serves each shard, as this node knows it.
//
// Contract: the node's Raft host reports, per shard group, who leads it (set_leader) and when this
// node, leading, has applied every entry committed before its term (set_serving: from then on its
// own RocksDB holds the shard's latest state, so it may activate the shard's personas and answer
// reads). The metadata actor reports the shard count once the cluster map has placed shards
// (set_shard_count). route() answers one question for a request: serve here, forward to a leader,
// or refuse with a reason a client can act on. A node that does not replicate a shard forwards its
// requests to the leader a replica named (set_hint), else to the shard's preferred replica. A node
// that is not the serving leader of a shard never serves it: that is the fence against two live
// activations of one persona.
//
// Pure logic behind one mutex: every method may be called from any thread. Owns only its table.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace nca::cluster {

class ShardRoutes {
 public:
  // `configured_shards` is this node's cluster.shards: a map created with another count is refused
  // (persona keys are placed by it).
  ShardRoutes(uint64_t self, uint32_t configured_shards);

  enum class Kind {
    serve,    // this node leads the shard and is caught up
    forward,  // `leader` leads it
    refuse,   // nobody known can serve it now: `reason` says why (retry later)
  };
  struct Route {
    Kind kind = Kind::refuse;
    uint64_t leader = 0;
    std::string reason;
  };
  Route route(uint32_t shard) const;

  // The number of shards of the cluster map (0: not placed yet).
  void set_shard_count(uint32_t shards);
  uint32_t shard_count() const;
  // Leader of the shard as this node's replica of its group sees it (0: none known). Losing the
  // leadership clears serving.
  void set_leader(uint32_t shard, uint64_t leader);
  // This node leads `shard` and has applied everything committed before its term.
  void set_serving(uint32_t shard);
  // The shard's replicas from the cluster map, preferred first. A node that is not a replica
  // learns no leader from Raft: it forwards to a hint (below), else to the preferred replica.
  void set_replicas(uint32_t shard, std::vector<uint64_t> replicas);
  // Who a replica said leads `shard` (used only while this node is not a replica of it).
  void set_hint(uint32_t shard, uint64_t leader);
  // `node` did not answer for `shard`: the hint moves to the replica after it, so a node that does
  // not replicate the shard tries each replica in turn rather than one that is down.
  void unreachable(uint32_t shard, uint64_t node);
  bool serving(uint32_t shard) const;
  // The leader set_leader() last recorded (0: none known), without route()'s guesses.
  uint64_t known_leader(uint32_t shard) const;
  // Which stretch of serving `shard` this is: a number that changes every time this node starts
  // serving it again (0 while it does not). Whoever keeps state derived from the shard's records
  // in memory compares it with the number it loaded at, and loads again when it differs: that
  // state may miss what other leaders wrote while this node did not serve the shard.
  uint64_t serving_term(uint32_t shard) const;
  // Shards this node serves, ascending.
  std::vector<uint32_t> served() const;

 private:
  struct Entry {
    uint64_t leader = 0;
    bool serving = false;
    std::vector<uint64_t> replicas;
    uint64_t hint = 0;
    uint64_t serving_term = 0;  // set when serving starts
  };
  const uint64_t self_;
  const uint32_t configured_;
  mutable std::mutex mu_;
  uint32_t shards_ = 0;               // guarded by mu_
  uint64_t servings_ = 0;             // guarded by mu_: stretches of serving started, any shard
  std::map<uint32_t, Entry> routes_;  // guarded by mu_
};

}  // namespace nca::cluster
