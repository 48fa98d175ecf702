// actors/persona_directory.hpp: the node's map from (tenant, persona) to its persona actor.
//
// Activates a persona on first use (Orleans-style): the actor is spawned with lazy_init, so it
// loads its memories on its own scheduler thread, never under this directory's lock. On a node of
// a cluster it activates only personas of shards this node serves (cluster::ShardRoutes), checked
// under the same lock evict_shard() takes: once the routes say the node lost a shard and
// evict_shard() ran, no actor of that shard lives here, and none is activated until the node leads
// it again and has caught up. Thread-safe (one mutex held only for map operations). Owned by the
// Node; outlives no actor system.
#pragma once

#include <caf/all.hpp>

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/node_context.hpp"

namespace nca::actors {

class PersonaDirectory {
 public:
  PersonaDirectory(caf::actor_system& sys, NodeContextPtr ctx);

  // The persona's actor, activated if needed. unavailable once close() was called (the node is
  // shutting down) or when this node does not serve the persona's shard (the reason says why).
  Result<caf::actor> activate(const std::string& tenant, const std::string& persona);
  // activate(), or an invalid (null) actor when it fails.
  caf::actor get_or_spawn(const std::string& tenant, const std::string& persona);
  // Tells the actors of `shard`'s personas to answer what they hold and leave (this node no longer
  // leads the shard), and forgets them at once.
  // Returns how many it stopped.
  size_t evict_shard(uint32_t shard);
  // Drops every handle and refuses new activations (shutdown: the actors were told to exit).
  // Forgets `persona` if it is still `actor` (a deleted persona's actor leaves; the next request
  // spawns a fresh one).
  void remove(const std::string& tenant, const std::string& persona, const caf::actor& actor);
  void close();
  std::vector<caf::actor> all() const;
  size_t size() const;

 private:
  caf::actor_system& sys_;
  NodeContextPtr ctx_;
  mutable std::mutex mu_;
  struct Activation {
    caf::actor actor;
    uint32_t shard = 0;
  };
  std::unordered_map<std::string, Activation> personas_;
  bool closed_ = false;
};

}  // namespace nca::actors
