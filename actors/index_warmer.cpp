#include "actors/index_warmer.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <filesystem>
#include <map>
#include <set>

#include "actors/tier_manager.hpp"
#include "runtime/persona_writer.hpp"
#include "runtime/tier.hpp"
#include "storage/keys.hpp"

namespace nca::actors {
namespace {

using warm_tick_atom = caf::atom_constant<caf::atom("warmtick")>;

constexpr std::array<pb::Tier, 3> kWarmTiers = {pb::STM, pb::MTM, pb::LTM};
constexpr size_t kRefreshFraction = 4;

struct WarmerState {
  NodeContextPtr ctx;
  std::chrono::microseconds interval{0};
  // Persona prefix -> shard entries applied to it since its last refresh, and its items then.
  std::map<std::string, uint64_t> changes;
  std::map<std::string, size_t> sizes;
  static inline const char* name = "nca.index_warmer";
};

using WarmerSelf = caf::stateful_actor<WarmerState>;

// Loads each of the persona's tiers from its saved index plus what the index lacks, and saves the
// result: what an activation would do, done ahead of it.
// Returns the persona's items (every tier).
size_t warm(NodeContext& ctx, const storage::PersonaKey& key) {
  PersonaRef ref = PersonaRef::make(key.tenant, key.persona, ctx.policy.shards);
  PersonaWriter writer(*ctx.db, ref, ctx.policy, ctx.health, *ctx.clock, *ctx.ids,
                       ctx.policy.tubules, ctx.policy.session_window);
  auto items = writer.open();
  if (!items) {
    spdlog::warn("index warmer: persona '{}' not loaded: {}", key.persona, items.error().message);
    return 0;
  }
  size_t total = 0;
  for (const auto& tier_items : *items) total += tier_items.size();
  for (size_t i = 0; i < kWarmTiers.size(); ++i) {
    Tier tier(kWarmTiers[i], ctx.policy, ctx.health);
    const std::string path = index_path(ctx, ref, kWarmTiers[i]);
    const bool empty = (*items)[i].empty();
    auto report = load_tier_from_storage(ctx, ref, tier, path, std::move((*items)[i]), false);
    if (empty || (report.used_saved_index && report.need_vectors.empty())) continue;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    if (auto s = tier.save(path); !s) {
      spdlog::warn("index warmer: persona '{}': {}", key.persona, s.error().message);
    }
  }
  ctx.counters.indices_warmed++;
  return total;
}

caf::behavior index_warmer(WarmerSelf* self, NodeContextPtr ctx,
                           std::chrono::microseconds interval) {
  self->state.ctx = std::move(ctx);
  self->state.interval = interval;
  self->delayed_send(self, interval, warm_tick_atom::value);
  return {
      [=](warm_dirty_atom, PrefixesPtr prefixes) {
        if (!prefixes) return;
        for (const auto& prefix : *prefixes) ++self->state.changes[prefix];
      },
      [=](warm_tick_atom) {
        auto& st = self->state;
        auto& ctx = *st.ctx;
        for (auto it = st.changes.begin(); it != st.changes.end() && !ctx.stopping;) {
          auto key = storage::parse_persona_prefix(it->first);
          // Personas this node serves: their actors own the index files.
          if (!key || (ctx.routes && ctx.routes->serving(key->shard))) {
            it = st.changes.erase(it);
            continue;
          }
          // A refresh reads and writes the whole persona: it waits until the changes since the
          // last one reach a quarter of the persona, so its cost per write stays constant as
          // personas grow (refreshing every changed persona every interval cost a whole persona's
          // reads and writes per interval). A new leader's activation then reads at most that
          // quarter's embeddings.
          const size_t size = st.sizes[it->first];
          if (it->second < std::max<uint64_t>(1, size / kRefreshFraction)) {
            ++it;
            continue;
          }
          st.sizes[it->first] = warm(ctx, *key);
          it = st.changes.erase(it);
        }
        self->delayed_send(self, st.interval, warm_tick_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_index_warmer(caf::actor_system& sys, NodeContextPtr ctx,
                              std::chrono::microseconds interval) {
  return sys.spawn<caf::detached>(index_warmer, std::move(ctx), interval);
}

}  // namespace nca::actors
