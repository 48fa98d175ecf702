#include "actors/tier_manager.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace nca::actors {
namespace {

constexpr size_t kVectorFetchChunk = 1024;
// A periodic save waits until the changes since the last one reach this share of the tier (1/4),
// so its cost per write stays constant as the tier grows (the index warmer's rule, too).
constexpr size_t kSaveFraction = 4;

using index_save_tick_atom = caf::atom_constant<caf::atom("isavetick")>;

std::string hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

struct TierManagerState {
  NodeContextPtr ctx;
  PersonaRef ref;
  std::unique_ptr<Tier> tier;
  std::string path;
  ConsolidationCursor cursor;
  std::shared_ptr<std::atomic<uint64_t>> applied;
  // Changes applied since the index file was last written, and the tier's size then: a periodic
  // save (index.save-interval) runs once the changes reach a quarter of that size.
  size_t changes_since_save = 0;
  size_t size_at_save = 0;
};

void load_tier(TierManagerState& st, std::vector<ItemMeta> items) {
  const bool empty = items.empty();
  auto report = load_tier_from_storage(*st.ctx, st.ref, *st.tier, st.path, std::move(items));
  st.size_at_save = st.tier->size();
  // A rebuilt index, or a saved one that lacked items, is saved at the first periodic check: a
  // crash before the persona stops would otherwise rebuild it again.
  if (!empty && (!report.used_saved_index || !report.need_vectors.empty())) {
    st.changes_since_save = std::max<size_t>(1, st.size_at_save);
  }
}

// Writes the tier's index file (atomically: runtime/vector_index); an empty tier with no file
// writes nothing. A failure is logged: the index is rebuilt from RocksDB on the next activation.
bool save_index(TierManagerState& s) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(s.path).parent_path(), ec);
  if (s.tier->size() == 0 && !std::filesystem::exists(s.path)) return true;
  auto r = s.tier->save(s.path);
  if (!r) {
    spdlog::warn("persona '{}' tier {}: index not saved ({}); it will be rebuilt on start",
                 s.ref.persona, tier_name(s.tier->tier()), r.error().message);
    return false;
  }
  s.changes_since_save = 0;
  s.size_at_save = s.tier->size();
  return true;
}

bool save_due(const TierManagerState& s) {
  return s.changes_since_save >= std::max<size_t>(1, s.size_at_save / kSaveFraction);
}

TierSearchResultPtr run_search(TierManagerState& st, const TierSearch& q) {
  auto res = std::make_shared<TierSearchResult>();
  const Tier& tier = *st.tier;
  if (tier.size() == 0 || q.k == 0) return res;
  auto cands = tier.search(q.query.data(), q.k, q.filter, q.now_us, q.temperature);
  res->hits.reserve(cands.size());
  for (auto& c : cands) {
    TierHit hit;
    hit.id = std::move(c.id);
    hit.ordinal = c.ordinal;
    hit.similarity = c.similarity;
    hit.health = c.health;
    if (q.include_embedding) {
      if (auto vec = tier.index().vector_of(c.ordinal)) hit.embedding = std::move(*vec);
    }
    res->hits.push_back(std::move(hit));
  }
  return res;
}

ConsolidationProposalPtr run_consolidation(TierManagerState& st, const ConsolidationAsk& ask) {
  auto out = std::make_shared<ConsolidationProposal>();
  const Tier& tier = *st.tier;
  if (tier.size() == 0) return out;
  ConsolidationInput input;
  auto items = tier.items();
  switch (tier.tier()) {
    case pb::MTM:
      input.mtm = std::move(items);
      break;
    case pb::LTM:
      input.ltm = std::move(items);
      break;
    default:
      input.stm = std::move(items);
      break;
  }
  ConsolidationOptions opts;
  opts.batch_size = std::max<size_t>(1, ask.budget);
  opts.merge_base = ask.merge_base;
  SimilarItems similar = [&](const std::string& id, size_t k) {
    std::vector<std::pair<std::string, float>> found;
    const ItemMeta* m = tier.find(id);
    if (m == nullptr) return found;
    auto vec = tier.index().vector_of(m->ordinal);
    if (!vec) return found;
    for (const auto& c :
         tier.search(vec->data(), k + 1, TierFilter{}, ask.now_us, ask.temperature)) {
      if (c.id != id) found.emplace_back(c.id, c.similarity);
    }
    return found;
  };
  auto plan = plan_consolidation(input, st.ctx->policy, st.ctx->health, ask.temperature, ask.now_us,
                                 opts, st.cursor, similar);
  if (!plan) {
    out->error = plan.error().message;
    return out;
  }
  st.cursor.advance(*plan, ask.now_us);
  out->actions = std::move(plan->actions);
  out->checked = plan->counts.checked;
  return out;
}

ActivationsPtr most_active(const TierManagerState& st, size_t n, TimeUs now, double temperature) {
  auto out = std::make_shared<std::vector<std::pair<std::string, double>>>();
  for (const ItemMeta* m : st.tier->items()) {
    double health = st.ctx->health.at(m->health, st.tier->tier(), now, temperature);
    // Recency halves roughly every 17 hours since the last access: today's focus outranks last
    // week's.
    double hours = static_cast<double>(std::max<TimeUs>(0, now - m->last_access_us)) / kUsPerHour;
    out->emplace_back(m->id, health * std::exp(-hours / 24.0));
  }
  auto better = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  if (out->size() > n) {
    std::partial_sort(out->begin(), out->begin() + static_cast<long>(n), out->end(), better);
    out->resize(n);
  } else {
    std::sort(out->begin(), out->end(), better);
  }
  return out;
}

caf::behavior tier_manager(caf::stateful_actor<TierManagerState>* self, NodeContextPtr ctx,
                           std::shared_ptr<TierManagerInit> init) {
  auto& st = self->state;
  st.ctx = ctx;
  st.ref = init->ref;
  st.tier = std::make_unique<Tier>(init->tier, ctx->policy, ctx->health);
  st.path = index_path(*ctx, st.ref, init->tier);
  st.applied = init->applied;
  load_tier(st, std::move(init->items));
  const auto save_interval = std::chrono::microseconds(ctx->settings.index.save_interval);
  if (save_interval.count() > 0) {
    self->delayed_send(self, save_interval, index_save_tick_atom::value);
  }
  if (auto persona = caf::actor_cast<caf::actor>(init->persona)) {
    self->send(persona, index_atom::value, static_cast<int32_t>(init->tier),
               IndexPtr(st.tier->shared_index()));
  }
  init.reset();
  return {
      [=](search_atom, TierSearchPtr q) -> TierSearchResultPtr {
        return run_search(self->state, *q);
      },
      [=](consolidate_atom, ConsolidationAskPtr ask) -> ConsolidationProposalPtr {
        return run_consolidation(self->state, *ask);
      },
      [=](context_atom, uint64_t n, int64_t now, double temperature) -> ActivationsPtr {
        return most_active(self->state, static_cast<size_t>(n), now, temperature);
      },
      [=](apply_atom, TierEffectsPtr effects) {
        auto& s = self->state;
        for (const auto& e : *effects) {
          if (e.tier != s.tier->tier()) continue;
          ++s.changes_since_save;
          if (e.remove) {
            s.tier->remove(e.meta.id);
            s.cursor.erase(e.meta.id);
          } else if (auto r = s.tier->upsert(e.meta, e.vec.empty() ? nullptr : e.vec.data()); !r) {
            spdlog::error("persona '{}' tier {}: cannot apply change to memory '{}': {}",
                          s.ref.persona, tier_name(s.tier->tier()), e.meta.id, r.error().message);
          }
        }
        if (s.applied) s.applied->fetch_add(1, std::memory_order_release);
      },
      [=](index_save_tick_atom) {
        auto& s = self->state;
        if (save_due(s)) save_index(s);
        self->delayed_send(self, std::chrono::microseconds(s.ctx->settings.index.save_interval),
                           index_save_tick_atom::value);
      },
      [=](drop_atom) {
        // The persona was deleted: its saved index must not come back with a new persona.
        std::error_code ec;
        std::filesystem::remove(self->state.path, ec);
        self->quit();
      },
      [=](save_atom) -> bool { return save_index(self->state); },
      [=](tstats_atom) -> TierStatsPtr {
        auto& s = self->state;
        auto stats = std::make_shared<pb::TierStats>();
        stats->set_tier(s.tier->tier());
        stats->set_items(s.tier->size());
        stats->set_index_size(s.tier->index().size());
        stats->set_index_deleted(s.tier->index().deleted());
        stats->set_capacity(s.ctx->policy.capacity(s.tier->tier()));
        return stats;
      },
  };
}

}  // namespace

Tier::LoadReport load_tier_from_storage(NodeContext& ctx, const PersonaRef& ref, Tier& tier,
                                        const std::string& path, std::vector<ItemMeta> items,
                                        bool activation) {
  const char* tname = tier_name(tier.tier());
  size_t n = items.size();
  auto report = tier.load(path, std::move(items));
  if (!report.used_saved_index && n > 0 && activation) {
    ctx.counters.index_rebuilds++;
    // nca-bench soak counts these lines (bench/soak_bench.cpp): keep the words.
    spdlog::info("persona '{}' tier {}: rebuilding the vector index of {} items from RocksDB ({})",
                 ref.persona, tname, n, report.reason);
  }
  const auto& need = report.need_vectors;
  for (size_t start = 0; start < need.size(); start += kVectorFetchChunk) {
    size_t end = std::min(need.size(), start + kVectorFetchChunk);
    std::vector<std::string> keys;
    for (size_t i = start; i < end; ++i) keys.push_back(storage::item_key(ref.prefix, need[i]));
    auto values = ctx.db->multi_get(storage::Cf::vectors, keys);
    std::vector<ItemMeta> metas;
    std::vector<std::vector<float>> vecs;
    for (size_t i = start; i < end; ++i) {
      auto& v = values[i - start];
      const ItemMeta* meta = tier.find(need[i]);
      if (meta == nullptr) continue;
      if (!v || !v->has_value()) {
        ctx.counters.corrupt_records++;
        spdlog::error(
            "persona '{}' tier {}: embedding of memory '{}' is missing; it cannot be "
            "recalled until it is updated or deleted",
            ref.persona, tname, need[i]);
        continue;
      }
      auto rec = storage::decode_record<pb::EmbeddingRecord>(**v, "embedding of '" + need[i] + "'");
      if (!rec || static_cast<size_t>(rec->values_size()) != ctx.policy.dim) {
        ctx.counters.corrupt_records++;
        spdlog::error("persona '{}' tier {}: embedding of memory '{}' is corrupt", ref.persona,
                      tname, need[i]);
        continue;
      }
      metas.push_back(*meta);
      vecs.emplace_back(rec->values().begin(), rec->values().end());
    }
    std::vector<const float*> ptrs;
    for (auto& v : vecs) ptrs.push_back(v.data());
    if (auto s = tier.upsert_batch(metas, ptrs); !s) {
      spdlog::error("persona '{}' tier {}: cannot index items: {}", ref.persona, tname,
                    s.error().message);
    }
  }
  return report;
}

std::string index_path(const NodeContext& ctx, const PersonaRef& ref, pb::Tier tier) {
  return ctx.index_dir + "/" + hex(ref.tenant) + "/" + hex(ref.persona) + "/" + tier_name(tier) +
         ".hnsw";
}

caf::actor spawn_tier_manager(caf::local_actor* parent, NodeContextPtr ctx,
                              std::shared_ptr<TierManagerInit> init) {
  // lazy_init: the three tiers of a persona load their indices in parallel, on their own threads.
  return parent->spawn<caf::linked + caf::lazy_init>(tier_manager, std::move(ctx), std::move(init));
}

}  // namespace nca::actors
