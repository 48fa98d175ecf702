// actors/persona_actor.hpp: one persona — its write pipeline, its three tier managers and its live items.
//
// The persona actor is the single writer of its persona's state, so writes are linearizable per persona.
// Writes go through a pipeline: requests are planned against committed storage (runtime/persona_writer),
// planned writes that touch distinct items form a group whose batches are committed together (they share
// one fsync with every other persona's commits in flight), and only when a batch is durable are its
// effects applied to the tiers and item actors and its reply sent. Reads (recall, get, list, history,
// stats) always see committed state. Recall fans out to the tier managers in parallel; reinforcement of
// the returned items is queued as a write after the reply, off its path.
//   (handle_atom, RequestPtr) -> (uint32_t method, std::string response)
//   (save_atom) -> bool        save every tier's index (clean shutdown)
#pragma once

#include <caf/all.hpp>

#include <string>

#include "actors/messages.hpp"
#include "actors/node_context.hpp"

namespace nca::actors {

caf::actor spawn_persona(caf::actor_system& sys, NodeContextPtr ctx, const std::string& tenant,
                         const std::string& persona);

}  // namespace nca::actors
