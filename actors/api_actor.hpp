// actors/api_actor.hpp: the node's front door for the SDK (and, later, the HTTP gateway).
//
// Receives the wire envelope (proto/wire.hpp), decodes and checks the request (schema version,
// method, tenant, deadline), answers node-level requests itself (ping, node stats) and delegates
// the rest to the persona actor that owns the data, which replies to the client directly. Requests
// that name only an item id are routed through the item's locator. Malformed bytes get an
// invalid_argument reply and change nothing.
//
// Who may ask (DESIGN §8): a client's envelope (SDK, or the HTTP gateway on a client's behalf)
// carries a credential, which the node's Authenticator checks before anything else; the request
// then touches only the credential's tenant, needs the role its method needs, and counts against
// the tenant's rate limit. A peer's forwarded request was checked by the node that took it first;
// the node's own actors send `local_request_atom`. Both are accepted only from the transport or
// an actor of this node: the published actor is reachable by any client, and a remote sender of
// either would skip the checks. State: parked requests and the rate limiter.
#pragma once

#include <caf/all.hpp>

#include "actors/node_context.hpp"

namespace nca::actors {

// (local_request_atom, method, bytes) -> (method, bytes): a request from an actor of this node,
// already authorized (or made by the node itself); refused from anywhere else.
using local_request_atom = caf::atom_constant<caf::atom("localreq")>;

caf::actor spawn_api(caf::actor_system& sys, NodeContextPtr ctx);

// Runs a blocking embedder (e.g. http) on its own thread: (embed_atom, TextsPtr) -> EmbeddingsPtr.
caf::actor spawn_embed_worker(caf::actor_system& sys, NodeContextPtr ctx);

}  // namespace nca::actors
