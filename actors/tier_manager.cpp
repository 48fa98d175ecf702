#include "actors/tier_manager.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "storage/keys.hpp"
#include "storage/records.hpp"

namespace nca::actors {
namespace {

constexpr int kMaxFilterRounds = 6;
constexpr size_t kVectorFetchChunk = 1024;

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
};

bool record_matches(const pb::MemoryItem& item, const TierSearch& q) {
  for (const auto& t : q.tags) {
    if (std::find(item.tags().begin(), item.tags().end(), t) == item.tags().end()) return false;
  }
  for (const auto& [k, v] : q.metadata) {
    auto it = item.metadata().find(k);
    if (it == item.metadata().end() || it->second != v) return false;
  }
  return true;
}

void load_tier(TierManagerState& st, std::vector<ItemMeta> items) {
  auto& ctx = *st.ctx;
  const char* tname = tier_name(st.tier->tier());
  size_t n = items.size();
  auto report = st.tier->load(st.path, std::move(items));
  if (!report.used_saved_index && n > 0) {
    ctx.counters.index_rebuilds++;
    spdlog::info("persona '{}' tier {}: rebuilding the vector index of {} items from RocksDB ({})",
                 st.ref.persona, tname, n, report.reason);
  }
  auto& need = report.need_vectors;
  for (size_t start = 0; start < need.size(); start += kVectorFetchChunk) {
    size_t end = std::min(need.size(), start + kVectorFetchChunk);
    std::vector<std::string> keys;
    for (size_t i = start; i < end; ++i) keys.push_back(storage::item_key(st.ref.prefix, need[i]));
    auto values = ctx.db->multi_get(storage::Cf::vectors, keys);
    std::vector<ItemMeta> metas;
    std::vector<std::vector<float>> vecs;
    for (size_t i = start; i < end; ++i) {
      auto& v = values[i - start];
      const ItemMeta* meta = st.tier->find(need[i]);
      if (meta == nullptr) continue;
      if (!v || !v->has_value()) {
        ctx.counters.corrupt_records++;
        spdlog::error("persona '{}' tier {}: embedding of memory '{}' is missing; it cannot be "
                      "recalled until it is updated or deleted",
                      st.ref.persona, tname, need[i]);
        continue;
      }
      auto rec = storage::decode_record<pb::EmbeddingRecord>(**v, "embedding of '" + need[i] + "'");
      if (!rec || static_cast<size_t>(rec->values_size()) != ctx.policy.dim) {
        ctx.counters.corrupt_records++;
        spdlog::error("persona '{}' tier {}: embedding of memory '{}' is corrupt", st.ref.persona,
                      tname, need[i]);
        continue;
      }
      metas.push_back(*meta);
      vecs.emplace_back(rec->values().begin(), rec->values().end());
    }
    std::vector<const float*> ptrs;
    for (auto& v : vecs) ptrs.push_back(v.data());
    if (auto s = st.tier->upsert_batch(metas, ptrs); !s) {
      spdlog::error("persona '{}' tier {}: cannot index items: {}", st.ref.persona, tname,
                    s.error().message);
    }
  }
}

TierSearchResultPtr run_search(TierManagerState& st, const TierSearch& q) {
  auto res = std::make_shared<TierSearchResult>();
  const Tier& tier = *st.tier;
  if (tier.size() == 0 || q.k == 0) return res;
  auto& ctx = *st.ctx;
  bool record_filters = !q.tags.empty() || !q.metadata.empty();
  // Health reorders within a small band, so twice k by similarity is enough to find the top k by score.
  size_t fetch = std::min(tier.size(), record_filters ? q.k * q.overfetch : q.k * 2);
  for (int round = 0; round < kMaxFilterRounds; ++round) {
    auto cands = tier.search(q.query.data(), fetch, q.filter, q.now_us, q.temperature);
    std::vector<size_t> order(cands.size());
    std::iota(order.begin(), order.end(), 0);
    auto score_of = [&](const TierCandidate& c) {
      return static_cast<double>(c.similarity) *
             (1.0 - q.health_weight + q.health_weight * c.health / 100.0);
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return score_of(cands[a]) > score_of(cands[b]); });
    size_t take = record_filters ? order.size() : std::min(order.size(), q.k);
    std::vector<std::string> keys;
    keys.reserve(take);
    for (size_t i = 0; i < take; ++i) {
      keys.push_back(storage::item_key(st.ref.prefix, cands[order[i]].id));
    }
    auto values = ctx.db->multi_get(storage::Cf::items, keys);
    res->hits.clear();
    for (size_t i = 0; i < take && res->hits.size() < q.k; ++i) {
      const auto& c = cands[order[i]];
      auto& v = values[i];
      if (!v || !v->has_value()) continue;
      auto item = storage::decode_record<pb::MemoryItem>(**v, "memory '" + c.id + "'");
      if (!item) {
        ctx.counters.corrupt_records++;
        continue;
      }
      if (record_filters && !record_matches(*item, q)) continue;
      TierHit hit;
      hit.item = std::move(*item);
      hit.item.set_health(c.health);
      hit.item.set_health_updated_at_us(std::max(q.now_us, hit.item.health_updated_at_us()));
      hit.similarity = c.similarity;
      hit.health = c.health;
      hit.score = score_of(c);
      hit.vector_rank = static_cast<uint32_t>(order[i] + 1);
      if (q.include_embedding) {
        if (auto vec = tier.index().vector_of(c.ordinal)) hit.embedding = std::move(*vec);
      }
      res->hits.push_back(std::move(hit));
    }
    bool exhausted = cands.size() < fetch || fetch >= tier.size();
    if (res->hits.size() >= q.k || exhausted) break;
    fetch = std::min(tier.size(), fetch * 4);
  }
  return res;
}

caf::behavior tier_manager(caf::stateful_actor<TierManagerState>* self, NodeContextPtr ctx,
                           std::shared_ptr<TierManagerInit> init) {
  auto& st = self->state;
  st.ctx = ctx;
  st.ref = init->ref;
  st.tier = std::make_unique<Tier>(init->tier, ctx->policy, ctx->health);
  st.path = index_path(*ctx, st.ref, init->tier);
  load_tier(st, std::move(init->items));
  init.reset();
  return {
      [=](search_atom, TierSearchPtr q) -> TierSearchResultPtr {
        return run_search(self->state, *q);
      },
      [=](apply_atom, TierEffectsPtr effects) {
        auto& s = self->state;
        for (const auto& e : *effects) {
          if (e.tier != s.tier->tier()) continue;
          if (e.remove) {
            s.tier->remove(e.meta.id);
          } else if (auto r = s.tier->upsert(e.meta, e.vec.empty() ? nullptr : e.vec.data()); !r) {
            spdlog::error("persona '{}' tier {}: cannot apply change to memory '{}': {}",
                          s.ref.persona, tier_name(s.tier->tier()), e.meta.id, r.error().message);
          }
        }
      },
      [=](save_atom) -> bool {
        auto& s = self->state;
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(s.path).parent_path(), ec);
        if (s.tier->size() == 0 && !std::filesystem::exists(s.path)) return true;
        auto r = s.tier->save(s.path);
        if (!r) {
          spdlog::warn("persona '{}' tier {}: index not saved ({}); it will be rebuilt on start",
                       s.ref.persona, tier_name(s.tier->tier()), r.error().message);
        }
        return r.ok();
      },
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
