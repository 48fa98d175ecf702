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
  p.index_rebuild_deleted_ratio = s.index.rebuild_deleted_ratio;
  p.shards = static_cast<uint32_t>(s.cluster.shards);
  return p;
}

}  // namespace nca
