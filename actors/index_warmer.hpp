// actors/index_warmer.hpp: keeps the vector indices of the personas a node replicates but does not
// lead warm, so a failover does not pay a rebuild (issue #7: "followers keep their indices warm").
//
// Contract.
//   * (warm_dirty_atom, prefixes) from the apply path: the personas whose items a shard entry
//     applied on this node changed (storage::ApplyRound::add), noted for the next round.
//   * Every `interval` (cluster.follower-index-refresh; the actor is not spawned when it is 0) it
//     takes the noted personas of shards this node does not serve whose changes since their last
//     refresh reach a quarter of their items (any change, the first time), loads each tier the way
//     an activation would (actors/tier_manager.hpp: the saved index plus what it lacks) and saves
//     the index back, atomically (runtime/vector_index: temp file and rename). A new leader's
//     activation then finds a recent saved index and reads only the embeddings added since (at
//     most about a quarter of the persona's). Refreshing costs O(persona) reads and writes, so the
//     quarter keeps its cost per applied write constant as personas grow.
//     Personas this node serves are skipped: their actors own their index files.
//   * `indices_warmed` counts the personas refreshed.
//
// Thread-safety: a detached actor (index builds and file writes block). Reads RocksDB and writes
// only index files under node.data-dir/index.
#pragma once

#include <caf/all.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "actors/node_context.hpp"

namespace nca::actors {

using warm_dirty_atom = caf::atom_constant<caf::atom("warmdirty")>;
// The persona prefixes, as messages.hpp's TextsPtr (one registration for the type).
using PrefixesPtr = TextsPtr;

caf::actor spawn_index_warmer(caf::actor_system& sys, NodeContextPtr ctx,
                              std::chrono::microseconds interval);

}  // namespace nca::actors
