// runtime/memory_policy.hpp: the knobs the memory domain reads, decoupled from the config layer.
//
// Domain classes take a MemoryPolicy by const reference (tests build one directly; the node derives
// it from config::Settings with policy_from). A plain value; copy freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "config/settings.hpp"
#include "proto/neuroca.pb.h"
#include "runtime/clock.hpp"
#include "runtime/health.hpp"
#include "runtime/tubule_graph.hpp"

namespace nca {

struct MemoryPolicy {
  size_t dim = 384;
  TimeUs stm_ttl_us = 3 * kUsPerHour;
  TimeUs mtm_ttl_us = 14 * kUsPerDay;
  TimeUs ltm_ttl_us = 0;  // 0: no TTL
  size_t stm_capacity = 1000;
  size_t mtm_capacity = 10000;
  size_t ltm_capacity = 0;  // 0: unlimited
  TimeUs archive_retention_us = 30 * kUsPerDay;
  size_t max_content_bytes = 64 * 1024;
  size_t max_batch = 1000;
  // Stored (not archived) memories per persona (limits.memories-per-persona); 0: unlimited.
  size_t max_items = 10000000;
  double default_importance = 0.5;
  size_t max_tags = 64;
  size_t max_metadata = 64;
  HealthParams health;

  size_t default_k = 10;
  size_t max_k = 1000;
  double health_weight = 0.15;
  size_t overfetch = 4;

  size_t index_m = 16;
  size_t index_ef_construction = 200;
  size_t index_ef_search = 100;
  size_t index_initial_capacity = 1024;
  size_t index_exact_below = 1024;
  size_t index_stm_exact_below = 8192;
  double index_rebuild_deleted_ratio = 0.2;

  uint32_t shards = 64;

  // Cognitive dynamics (issue #3).
  TubuleParams tubules;
  size_t session_window = 2;
  double rrf_k = 60;
  double vector_weight = 0.3;  // recall.vector-weight: suits the offline hashing embedder
  double lexical_weight = 1.0;
  std::string recall_mode = "hybrid";
  bool recall_spread = true;
  bool lymphatic_enabled = true;
  TimeUs lymphatic_interval_us = 300 * kUsPerSecond;
  size_t lymphatic_batch = 100;
  double merge_threshold = 0.95;
  std::string annealing_schedule = "adaptive";
  double annealing_intensity = 0.5;
  double annealing_max = 1.5;
  size_t working_size = 100;

  size_t capacity(pb::Tier tier) const;
  TimeUs ttl_us(pb::Tier tier) const;
};

MemoryPolicy policy_from(const config::Settings& s);

const char* tier_name(pb::Tier tier);  // "stm", "mtm", "ltm"

}  // namespace nca
