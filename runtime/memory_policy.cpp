#include "runtime/memory_policy.hpp"

namespace nca {

size_t MemoryPolicy::capacity(pb::Tier tier) const {
  switch (tier) {
    case pb::STM: return stm_capacity;
    case pb::MTM: return mtm_capacity;
    default: return ltm_capacity;
  }
}

TimeUs MemoryPolicy::ttl_us(pb::Tier tier) const {
  switch (tier) {
    case pb::STM: return stm_ttl_us;
    case pb::MTM: return mtm_ttl_us;
    default: return ltm_ttl_us;
  }
}

const char* tier_name(pb::Tier tier) {
  switch (tier) {
    case pb::STM: return "stm";
    case pb::MTM: return "mtm";
    case pb::LTM: return "ltm";
    default: return "unspecified";
  }
}

MemoryPolicy policy_from(const config::Settings& s) {
  MemoryPolicy p;
  p.dim = static_cast<size_t>(s.memory.dim);
  p.stm_ttl_us = s.memory.stm_ttl;
  p.mtm_ttl_us = s.memory.mtm_ttl;
  p.ltm_ttl_us = s.memory.ltm_ttl;
  p.stm_capacity = static_cast<size_t>(s.memory.stm_capacity);
  p.mtm_capacity = static_cast<size_t>(s.memory.mtm_capacity);
  p.ltm_capacity = static_cast<size_t>(s.memory.ltm_capacity);
  p.archive_retention_us = s.memory.archive_retention;
  p.max_content_bytes = static_cast<size_t>(s.memory.max_content_bytes);
  p.max_batch = static_cast<size_t>(s.memory.max_batch);
  p.max_items = static_cast<size_t>(std::max<int64_t>(s.limits.memories_per_persona, 0));
  p.default_importance = s.memory.default_importance;
  p.max_tags = static_cast<size_t>(s.memory.max_tags);
  p.max_metadata = static_cast<size_t>(s.memory.max_metadata);
  p.health.initial_base = s.health.initial_base;
  p.health.initial_scale = s.health.initial_scale;
  p.health.decay_stm = s.health.decay_stm;
  p.health.decay_mtm = s.health.decay_mtm;
  p.health.decay_ltm = s.health.decay_ltm;
  p.health.promote = s.health.promote;
  p.health.demote = s.health.demote;
  p.health.reinforce = s.health.reinforce;
  p.default_k = static_cast<size_t>(s.recall.default_k);
  p.max_k = static_cast<size_t>(s.recall.max_k);
  p.health_weight = s.recall.health_weight;
  p.overfetch = static_cast<size_t>(s.recall.overfetch);
  p.index_m = static_cast<size_t>(s.index.m);
  p.index_ef_construction = static_cast<size_t>(s.index.ef_construction);
  p.index_ef_search = static_cast<size_t>(s.index.ef_search);
  p.index_initial_capacity = static_cast<size_t>(s.index.initial_capacity);
  p.index_exact_below = static_cast<size_t>(s.index.exact_below);
  p.index_stm_exact_below = static_cast<size_t>(s.index.stm_exact_below);
  p.index_rebuild_deleted_ratio = s.index.rebuild_deleted_ratio;
  p.shards = static_cast<uint32_t>(s.cluster.shards);
  p.tubules.session_strength = s.tubules.session_strength;
  p.tubules.hebbian_rate = s.tubules.hebbian_rate;
  p.tubules.decay_per_hour = s.tubules.decay;
  p.tubules.consolidate_at = s.tubules.consolidate;
  p.tubules.prune_below = s.tubules.threshold;
  p.tubules.max_per_item = static_cast<size_t>(s.tubules.max_connections);
  p.tubules.spread_min = s.tubules.spread_min;
  p.tubules.spread_factor = s.tubules.spread_factor;
  p.session_window = static_cast<size_t>(s.tubules.session_window);
  p.rrf_k = s.recall.rrf_k;
  p.vector_weight = s.recall.vector_weight;
  p.lexical_weight = s.recall.lexical_weight;
  p.recall_mode = s.recall.mode;
  p.recall_spread = s.recall.spread;
  p.lymphatic_enabled = s.lymphatic.enabled;
  p.lymphatic_interval_us = s.lymphatic.interval;
  p.lymphatic_batch = static_cast<size_t>(s.lymphatic.batch_size);
  p.merge_threshold = s.lymphatic.merge_threshold;
  p.annealing_schedule = s.annealing.schedule;
  p.annealing_intensity = s.annealing.intensity;
  p.annealing_max = s.annealing.max_temperature;
  p.working_size = static_cast<size_t>(s.memory.working_size);
  return p;
}

}  // namespace nca
