// actors/api_actor.hpp: the node's front door for the SDK (and, later, the HTTP gateway).
//
// Receives the wire envelope (proto/wire.hpp), decodes and checks the request (schema version, method,
// tenant, deadline), answers node-level requests itself (ping, node stats) and delegates the rest to the
// persona actor that owns the data, which replies to the client directly. Requests that name only an item
// id are routed through the item's locator. Malformed bytes get an invalid_argument reply and change
// nothing. Stateless apart from the shared NodeContext; safe to run several.
#pragma once

#include <caf/all.hpp>

#include "actors/node_context.hpp"

namespace nca::actors {

caf::actor spawn_api(caf::actor_system& sys, NodeContextPtr ctx);

// Runs a blocking embedder (e.g. http) on its own thread: (embed_atom, TextsPtr) -> EmbeddingsPtr.
caf::actor spawn_embed_worker(caf::actor_system& sys, NodeContextPtr ctx);

}  // namespace nca::actors
