// actors/tier_manager.hpp: the actor that owns one persona's tier (its table and vector index).
//
// A thin shell over runtime/tier.hpp. Spawned by the persona actor with the tier's stored items; on
// start it loads the saved index (or rebuilds it from RocksDB, with a log line) and replays items
// changed since the save. Messages:
//   (search_atom, TierSearchPtr) -> TierSearchResultPtr   vector top-k with in-memory filters
//   (consolidate_atom, ConsolidationAskPtr) -> ConsolidationProposalPtr   one lymphatic tick's plan
//   (context_atom, n, now, temperature) -> ActivationsPtr  the n most active items
//   (apply_atom, TierEffectsPtr)                          changes already durable in RocksDB
//   (save_atom) -> bool                                   saves the index file with its applied seq
//   (tstats_atom) -> TierStatsPtr
// It also saves the index by itself every index.save-interval once a quarter of the tier changed
// since its last save (or it was rebuilt at start), so a crash does not cost a rebuild.
#pragma once

#include <caf/all.hpp>

#include <atomic>

#include <memory>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "actors/node_context.hpp"
#include "runtime/tier.hpp"

namespace nca::actors {

struct TierManagerInit {
  PersonaRef ref;
  pb::Tier tier = pb::STM;
  std::vector<ItemMeta> items;
  // Told the tier's index once it is loaded (index_atom), so recall can search it directly.
  caf::actor_addr persona;
  // Counts the apply_atom messages this tier has applied; the persona counts those it sent, and
  // reads the index directly only when the two agree (its own writes are then visible to its
  // recalls).
  std::shared_ptr<std::atomic<uint64_t>> applied;
};

// The index file of one persona's tier below ctx.index_dir; tenant and persona are hex-encoded so
// no id can name a path outside it.
std::string index_path(const NodeContext& ctx, const PersonaRef& ref, pb::Tier tier);

// Loads `tier` with `items`: from its saved vector index at `path` when that is usable, plus the
// embeddings (read from RocksDB) of items the saved index lacks. An `activation`'s rebuild is
// counted (index_rebuilds) and logged. Used by the tier manager when a persona activates and by
// the follower index warmer.
Tier::LoadReport load_tier_from_storage(NodeContext& ctx, const PersonaRef& ref, Tier& tier,
                                        const std::string& path, std::vector<ItemMeta> items,
                                        bool activation = true);

caf::actor spawn_tier_manager(caf::local_actor* parent, NodeContextPtr ctx,
                              std::shared_ptr<TierManagerInit> init);

}  // namespace nca::actors
