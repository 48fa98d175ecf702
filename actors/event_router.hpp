// actors/event_router.hpp: the node's event router: every tenant's events and the routing view of
// its personas (DESIGN section 3).
//
// A thin shell around one runtime/EventQueue per tenant: it validates requests, asks the queue for
// the change, writes the changed event records through the group committer and answers only once
// they are durable (replies wait on the commit, so a reply never reports a state that a crash could
// undo). Each assignment becomes an STM memory of the persona (sent to the persona actor after the
// assignment is durable; the memory id is derived from the event, so re-sending it after a restart
// is harmless); an ack's result becomes a memory before the ack is written. next_event long-polls
// wait in the router with a deadline. A lease timer expires leases; acked records are deleted after
// events.retention.
//
// Serves (handle_atom, RequestPtr) for publish, next_event, ack, ack_batch, nack, event_status,
// list_dead_letters, requeue and list_personas, and learns profiles from persona actors
// (profile_atom after a profile write is durable, persona_gone_atom after a delete). On start it
// loads every persona profile and every event record from RocksDB; leases resume where they were.
//
// On a cluster node a tenant's events belong to one shard (storage::shard_of(tenant, "")), and go
// through that shard's Raft log like persona writes: the router changes a tenant's events only
// while this node serves the shard (requests for another tenant are answered with the
// kLeadershipMoved marker, and the api actor routes them to the shard's leader). (reload_atom)
// rebuilds the queues from storage when the node starts serving a shard; a node that does not
// serve a tenant's events sends its persona actors' profile changes to the node that does, and a
// serving router asks a persona it does not know for its profile (through the api actor) when it
// polls.
#pragma once

#include <caf/all.hpp>

#include "actors/node_context.hpp"

namespace nca::actors {

caf::actor spawn_event_router(caf::actor_system& sys, NodeContextPtr ctx);

}  // namespace nca::actors
