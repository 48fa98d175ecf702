// runtime/tier.hpp: one persona's tier (STM, MTM or LTM) in memory: a compact table of its items
// and their vector index.
//
// The table holds what the health, TTL and capacity rules need (id, ordinal, health, times,
// counts), never content: content stays in RocksDB and is fetched only for the hits a search
// returns. A Tier is a derived view of storage: it is rebuilt or reconciled from RocksDB on load
// and changed only after a change is durable. Not thread-safe: one owner (the tier manager actor)
// uses it; its VectorIndex is safe for readers concurrent with one writer, which benchmarks use
// directly.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "proto/neuroca.pb.h"
#include "runtime/health.hpp"
#include "runtime/memory_policy.hpp"
#include "runtime/vector_index.hpp"

namespace nca {

struct ItemMeta {
  std::string id;
  uint64_t ordinal = 0;
  HealthValue health;
  uint64_t access_count = 0;
  TimeUs last_access_us = 0;
  TimeUs stored_at_us = 0;
  TimeUs created_at_us = 0;
  TimeUs tier_entered_at_us = 0;
  double importance = 0.5;
  uint64_t seq = 0;
};

ItemMeta meta_of(const pb::MemoryItem& item);

// Filters a tier can evaluate without reading storage.
struct TierFilter {
  double min_health = 0;
  TimeUs created_after_us = 0;   // 0: open
  TimeUs created_before_us = 0;  // 0: open
};

struct TierCandidate {
  std::string id;
  uint64_t ordinal = 0;
  float similarity = 0;
  double health = 0;
};

class Tier {
 public:
  Tier(pb::Tier tier, const MemoryPolicy& policy, const HealthModel& health);

  pb::Tier tier() const { return tier_; }
  size_t size() const { return items_.size(); }
  const VectorIndex& index() const { return *index_; }
  // The index for readers on other threads (VectorIndex allows them next to this tier's writes). It
  // stays this tier's index after load() (which runs once, before anyone reads).
  std::shared_ptr<const VectorIndex> shared_index() const { return index_; }
  // The highest item seq this tier has applied; saved with the index so a restart replays only
  // newer ones.
  uint64_t applied_seq() const { return applied_seq_; }

  // Adds or replaces an item. `vec` (dim floats, normalised) may be null for a change that keeps
  // the vector.
  Status upsert(const ItemMeta& meta, const float* vec);
  // Adds many items under one index lock; vecs[i] may not be null.
  Status upsert_batch(const std::vector<ItemMeta>& metas, const std::vector<const float*>& vecs);
  bool remove(const std::string& id);
  const ItemMeta* find(const std::string& id) const;

  // The k most similar items passing `filter`, best first, with their health at `now_us`.
  std::vector<TierCandidate> search(const float* query, size_t k, const TierFilter& filter,
                                    TimeUs now_us, double temperature) const;

  std::vector<const ItemMeta*> items() const;

  Status save(const std::string& path) const;

  struct LoadReport {
    bool used_saved_index = false;
    std::string reason;                     // why the saved index was not used, if it was not
    std::vector<std::string> need_vectors;  // items whose vectors must be (re)added by the caller
    size_t removed_stale = 0;               // labels in the saved index no longer in this tier
  };
  // Installs `items` (this tier's items as stored) and the saved index at `path` when it is valid
  // and matches; items changed after the save (seq > its applied seq) or missing from it are listed
  // in need_vectors for the caller to upsert with their stored vectors.
  LoadReport load(const std::string& path, std::vector<ItemMeta> items);

 private:
  VectorIndex::Options index_options() const;
  // Records `meta` in the table (its vector is already in the index).
  void put(const ItemMeta& meta);

  pb::Tier tier_;
  const MemoryPolicy& policy_;
  const HealthModel& health_;
  std::shared_ptr<VectorIndex> index_;
  // Keyed by ordinal (the index label), so a search maps each hit with one lookup; ids resolve
  // through ordinal_of_.
  std::unordered_map<uint64_t, ItemMeta> items_;
  std::unordered_map<std::string, uint64_t> ordinal_of_;
  uint64_t applied_seq_ = 0;
};

}  // namespace nca
