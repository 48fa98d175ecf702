#include "runtime/tier.hpp"

#include <algorithm>

namespace nca {

ItemMeta meta_of(const pb::MemoryItem& item) {
  ItemMeta m;
  m.id = item.id();
  m.ordinal = item.ordinal();
  m.health = HealthValue{item.health(), item.health_updated_at_us()};
  m.access_count = item.access_count();
  m.last_access_us = item.last_access_at_us();
  m.stored_at_us = item.stored_at_us();
  m.created_at_us = item.created_at_us();
  m.tier_entered_at_us = item.tier_entered_at_us();
  m.importance = item.importance();
  m.seq = item.seq();
  return m;
}

Tier::Tier(pb::Tier tier, const MemoryPolicy& policy, const HealthModel& health)
    : tier_(tier),
      policy_(policy),
      health_(health),
      index_(std::make_shared<VectorIndex>(index_options())) {}

VectorIndex::Options Tier::index_options() const {
  VectorIndex::Options o;
  o.dim = policy_.dim;
  o.m = policy_.index_m;
  o.ef_construction = policy_.index_ef_construction;
  o.ef_search = policy_.index_ef_search;
  o.initial_capacity = policy_.index_initial_capacity;
  o.exact_below = tier_ == pb::STM ? policy_.index_stm_exact_below : policy_.index_exact_below;
  o.rebuild_deleted_ratio = policy_.index_rebuild_deleted_ratio;
  return o;
}

Status Tier::upsert(const ItemMeta& meta, const float* vec) {
  auto it = ordinal_of_.find(meta.id);
  if (vec != nullptr) {
    if (auto st = index_->upsert(meta.ordinal, vec); !st) return st;
  } else if (it == ordinal_of_.end() || !index_->contains(meta.ordinal)) {
    return make_error(ErrorCode::internal, "item '" + meta.id + "' entered tier " +
                                               tier_name(tier_) + " without a vector");
  }
  put(meta);
  return {};
}

Status Tier::upsert_batch(const std::vector<ItemMeta>& metas,
                          const std::vector<const float*>& vecs) {
  std::vector<uint64_t> labels;
  labels.reserve(metas.size());
  for (const auto& m : metas) labels.push_back(m.ordinal);
  if (auto st = index_->upsert_batch(labels, vecs); !st) return st;
  for (const auto& m : metas) put(m);
  return {};
}

void Tier::put(const ItemMeta& meta) {
  auto [it, inserted] = ordinal_of_.try_emplace(meta.id, meta.ordinal);
  if (!inserted && it->second != meta.ordinal) {
    // The item moved to a new ordinal (a re-embed): its old label must not answer searches.
    items_.erase(it->second);
    index_->remove(it->second);
    it->second = meta.ordinal;
  }
  items_[meta.ordinal] = meta;
  applied_seq_ = std::max(applied_seq_, meta.seq);
}

bool Tier::remove(const std::string& id) {
  auto it = ordinal_of_.find(id);
  if (it == ordinal_of_.end()) return false;
  index_->remove(it->second);
  items_.erase(it->second);
  ordinal_of_.erase(it);
  return true;
}

const ItemMeta* Tier::find(const std::string& id) const {
  auto it = ordinal_of_.find(id);
  if (it == ordinal_of_.end()) return nullptr;
  auto m = items_.find(it->second);
  return m == items_.end() ? nullptr : &m->second;
}

std::vector<const ItemMeta*> Tier::items() const {
  std::vector<const ItemMeta*> out;
  out.reserve(items_.size());
  for (const auto& [ordinal, m] : items_) out.push_back(&m);
  return out;
}

std::vector<TierCandidate> Tier::search(const float* query, size_t k, const TierFilter& filter,
                                        TimeUs now_us, double temperature) const {
  std::vector<TierCandidate> out;
  if (k == 0 || items_.empty()) return out;
  bool filtered =
      filter.min_health > 0 || filter.created_after_us != 0 || filter.created_before_us != 0;
  auto meta_for = [&](uint64_t label) -> const ItemMeta* {
    auto it = items_.find(label);
    return it == items_.end() ? nullptr : &it->second;
  };
  auto accept = [&](uint64_t label) {
    const ItemMeta* m = meta_for(label);
    if (m == nullptr) return false;
    if (filter.created_after_us != 0 && m->created_at_us < filter.created_after_us) return false;
    if (filter.created_before_us != 0 && m->created_at_us > filter.created_before_us) return false;
    if (filter.min_health > 0 &&
        health_.at(m->health, tier_, now_us, temperature) < filter.min_health) {
      return false;
    }
    return true;
  };
  auto hits = filtered ? index_->search(query, k, accept) : index_->search(query, k);
  out.reserve(hits.size());
  for (const auto& h : hits) {
    const ItemMeta* m = meta_for(h.label);
    if (m == nullptr) continue;
    out.push_back(TierCandidate{m->id, m->ordinal, h.similarity,
                                health_.at(m->health, tier_, now_us, temperature)});
  }
  return out;
}

Status Tier::save(const std::string& path) const { return index_->save(path, applied_seq_); }

Tier::LoadReport Tier::load(const std::string& path, std::vector<ItemMeta> items) {
  LoadReport report;
  items_.clear();
  ordinal_of_.clear();
  applied_seq_ = 0;
  uint64_t saved_seq = 0;
  auto loaded = VectorIndex::load(path, index_options());
  if (loaded) {
    index_ = std::move(loaded->index);
    saved_seq = loaded->applied_seq;
    report.used_saved_index = true;
  } else {
    index_ = std::make_shared<VectorIndex>(index_options());
    report.reason = loaded.error().message;
  }
  for (auto& m : items) {
    bool fresh = report.used_saved_index && m.seq <= saved_seq && index_->contains(m.ordinal);
    if (!fresh) report.need_vectors.push_back(m.id);
    ordinal_of_[m.id] = m.ordinal;
    applied_seq_ = std::max(applied_seq_, fresh ? m.seq : 0);
    items_.emplace(m.ordinal, std::move(m));
  }
  if (report.used_saved_index) {
    for (uint64_t label : index_->labels()) {
      if (items_.count(label) == 0) {
        index_->remove(label);
        ++report.removed_stale;
      }
    }
  }
  return report;
}

}  // namespace nca
