// actors/shard_log.hpp: how an actor writes a batch through its shard's Raft log (issue #7).
//
// A persona's plan and the event router's changes are WriteBatches; on a cluster node their
// representation is proposed to the shard's group (cluster/routing/shard_entry.hpp) and answered
// once this node has applied it (actors/raft_host_actor.hpp). The request has no CAF timeout on
// purpose: the Raft host answers every proposal, with the index or with an error when this node
// loses the leadership, so a caller never gives up on an entry that may still be applied.
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string_view>

#include "actors/metadata_actor.hpp"
#include "actors/node_context.hpp"
#include "actors/raft_host_actor.hpp"
#include "cluster/routing/shard_entry.hpp"

namespace nca::actors {

// The response handle of the proposal: .then([](uint64_t index) {...}, [](caf::error&) {...}).
template <class Self>
auto propose_batch(Self* self, const NodeContext& ctx, uint32_t shard, std::string_view rep) {
  return self->request(ctx.raft, caf::infinite, propose_atom::value, shard_group(shard),
                       cluster::encode_persona_write(rep));
}

}  // namespace nca::actors
