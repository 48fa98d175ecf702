// actors/persona_directory.hpp: the node's map from (tenant, persona) to its persona actor.
//
// Activates a persona on first use (Orleans-style): the actor is spawned with lazy_init, so it
// loads its memories on its own scheduler thread, never under this directory's lock. Thread-safe
// (one mutex held only for map operations). Owned by the Node; outlives no actor system.
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

  // An invalid (null) actor once close() was called: the node is shutting down.
  caf::actor get_or_spawn(const std::string& tenant, const std::string& persona);
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
  std::unordered_map<std::string, caf::actor> personas_;
  bool closed_ = false;
};

}  // namespace nca::actors
