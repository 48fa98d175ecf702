// actors/memory_item_actor.hpp: one memory item, activated on demand (Orleans-style virtual actor).
//
// The persona actor spawns it when a request addresses the item (get, touch, update, forget) and keeps
// it in a map; it caches the item's committed record, serves reads, and takes refreshed records from the
// persona after each durable change. After `actors.idle-timeout` without messages it asks the persona to
// passivate it; only the persona ends it, so no request is ever sent to an item actor that is gone. The
// number of live item actors therefore follows the working set, not the number of memories.
//   (item_get_atom, RequestPtr) -> (uint32_t method, std::string response)
//   (refresh_atom, ItemRecordPtr)   a durable change; null means the item is gone
#pragma once

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/node_context.hpp"

namespace nca::actors {

caf::actor spawn_memory_item(caf::local_actor* persona, NodeContextPtr ctx, PersonaRef ref,
                             ItemRecordPtr record);

}  // namespace nca::actors
