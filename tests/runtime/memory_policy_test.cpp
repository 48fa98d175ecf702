// Every memory-domain key of the config reaches MemoryPolicy: a key that parses, validates and is
// then silently ignored is the worst kind of setting. Each key is set from text, as an INI file or
// NCA_ variable would, to a value no default has, and the policy must carry it.
#include "runtime/memory_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/schema.hpp"
#include "tests/support/policy_key_cases.hpp"

namespace nca {
namespace {

double us(double seconds) { return seconds * 1e6; }

TEST(MemoryPolicy, EveryMemoryKeyReachesThePolicy) {
  const std::vector<nca::testing::PolicyKeyCase<MemoryPolicy>> cases = {
      {"memory.dim", "96", [](const MemoryPolicy& p) { return double(p.dim); }, 96},
      {"memory.stm-ttl", "2h", [](const MemoryPolicy& p) { return double(p.stm_ttl_us); },
       us(7200)},
      {"memory.mtm-ttl", "3d", [](const MemoryPolicy& p) { return double(p.mtm_ttl_us); },
       us(3 * 86400)},
      {"memory.ltm-ttl", "400d", [](const MemoryPolicy& p) { return double(p.ltm_ttl_us); },
       us(400 * 86400)},
      {"memory.stm-capacity", "123",
       [](const MemoryPolicy& p) { return double(p.capacity(pb::STM)); }, 123},
      {"memory.mtm-capacity", "4567",
       [](const MemoryPolicy& p) { return double(p.capacity(pb::MTM)); }, 4567},
      {"memory.ltm-capacity", "89012",
       [](const MemoryPolicy& p) { return double(p.capacity(pb::LTM)); }, 89012},
      {"memory.working-size", "77", [](const MemoryPolicy& p) { return double(p.working_size); },
       77},
      {"memory.archive-retention", "9d",
       [](const MemoryPolicy& p) { return double(p.archive_retention_us); }, us(9 * 86400)},
      {"memory.max-content-bytes", "5000",
       [](const MemoryPolicy& p) { return double(p.max_content_bytes); }, 5000},
      {"memory.max-batch", "55", [](const MemoryPolicy& p) { return double(p.max_batch); }, 55},
      {"memory.default-importance", "0.25",
       [](const MemoryPolicy& p) { return p.default_importance; }, 0.25},
      {"memory.max-tags", "7", [](const MemoryPolicy& p) { return double(p.max_tags); }, 7},
      {"memory.max-metadata", "9", [](const MemoryPolicy& p) { return double(p.max_metadata); }, 9},
      {"limits.memories-per-persona", "31",
       [](const MemoryPolicy& p) { return double(p.max_items); }, 31},
      {"health.initial-base", "33", [](const MemoryPolicy& p) { return p.health.initial_base; },
       33},
      {"health.initial-scale", "21", [](const MemoryPolicy& p) { return p.health.initial_scale; },
       21},
      {"health.decay-stm", "0.07", [](const MemoryPolicy& p) { return p.health.decay_stm; }, 0.07},
      {"health.decay-mtm", "0.02", [](const MemoryPolicy& p) { return p.health.decay_mtm; }, 0.02},
      {"health.decay-ltm", "0.003", [](const MemoryPolicy& p) { return p.health.decay_ltm; },
       0.003},
      {"health.promote", "85", [](const MemoryPolicy& p) { return p.health.promote; }, 85},
      {"health.demote", "15", [](const MemoryPolicy& p) { return p.health.demote; }, 15},
      {"health.reinforce", "0.3", [](const MemoryPolicy& p) { return p.health.reinforce; }, 0.3},
      {"recall.default-k", "6", [](const MemoryPolicy& p) { return double(p.default_k); }, 6},
      {"recall.max-k", "600", [](const MemoryPolicy& p) { return double(p.max_k); }, 600},
      {"recall.health-weight", "0.35", [](const MemoryPolicy& p) { return p.health_weight; }, 0.35},
      {"recall.overfetch", "3", [](const MemoryPolicy& p) { return double(p.overfetch); }, 3},
      {"recall.rrf-k", "42", [](const MemoryPolicy& p) { return p.rrf_k; }, 42},
      {"recall.vector-weight", "0.6", [](const MemoryPolicy& p) { return p.vector_weight; }, 0.6},
      {"recall.lexical-weight", "1.7", [](const MemoryPolicy& p) { return p.lexical_weight; }, 1.7},
      {"recall.spread", "false", [](const MemoryPolicy& p) { return double(p.recall_spread); }, 0},
      {"index.m", "24", [](const MemoryPolicy& p) { return double(p.index_m); }, 24},
      {"index.ef-construction", "150",
       [](const MemoryPolicy& p) { return double(p.index_ef_construction); }, 150},
      {"index.ef-search", "70", [](const MemoryPolicy& p) { return double(p.index_ef_search); },
       70},
      {"index.initial-capacity", "2048",
       [](const MemoryPolicy& p) { return double(p.index_initial_capacity); }, 2048},
      {"index.exact-below", "512",
       [](const MemoryPolicy& p) { return double(p.index_exact_below); }, 512},
      {"index.stm-exact-below", "4096",
       [](const MemoryPolicy& p) { return double(p.index_stm_exact_below); }, 4096},
      {"index.rebuild-deleted-ratio", "0.3",
       [](const MemoryPolicy& p) { return p.index_rebuild_deleted_ratio; }, 0.3},
      {"cluster.shards", "16", [](const MemoryPolicy& p) { return double(p.shards); }, 16},
      {"tubules.session-strength", "0.4",
       [](const MemoryPolicy& p) { return p.tubules.session_strength; }, 0.4},
      {"tubules.hebbian-rate", "0.15", [](const MemoryPolicy& p) { return p.tubules.hebbian_rate; },
       0.15},
      {"tubules.decay", "0.02", [](const MemoryPolicy& p) { return p.tubules.decay_per_hour; },
       0.02},
      {"tubules.consolidate", "0.8", [](const MemoryPolicy& p) { return p.tubules.consolidate_at; },
       0.8},
      {"tubules.threshold", "0.06", [](const MemoryPolicy& p) { return p.tubules.prune_below; },
       0.06},
      {"tubules.max-connections", "40",
       [](const MemoryPolicy& p) { return double(p.tubules.max_per_item); }, 40},
      {"tubules.spread-min", "0.25", [](const MemoryPolicy& p) { return p.tubules.spread_min; },
       0.25},
      {"tubules.spread-factor", "0.6",
       [](const MemoryPolicy& p) { return p.tubules.spread_factor; }, 0.6},
      {"tubules.session-window", "4",
       [](const MemoryPolicy& p) { return double(p.session_window); }, 4},
      {"lymphatic.enabled", "false",
       [](const MemoryPolicy& p) { return double(p.lymphatic_enabled); }, 0},
      {"lymphatic.interval", "90s",
       [](const MemoryPolicy& p) { return double(p.lymphatic_interval_us); }, us(90)},
      {"lymphatic.batch-size", "17",
       [](const MemoryPolicy& p) { return double(p.lymphatic_batch); }, 17},
      {"lymphatic.merge-threshold", "0.9", [](const MemoryPolicy& p) { return p.merge_threshold; },
       0.9},
      {"annealing.intensity", "0.7", [](const MemoryPolicy& p) { return p.annealing_intensity; },
       0.7},
      {"annealing.max-temperature", "1.2", [](const MemoryPolicy& p) { return p.annealing_max; },
       1.2},
  };
  nca::testing::expect_keys_reach_policy(cases, &policy_from);
}

// Tests build a MemoryPolicy directly; its defaults must be the node's, or they test a node nobody
// runs. (cluster.shards is the one exception: a standalone policy assumes 64 shards, the config's
// default is set for clusters.) Set apart, the two drifted: recall.vector-weight 0.3 and
// tubules.spread-min 0.2 were the node's since issue #3 tuned them while unit tests ran with 1.0
// and 0.3.
TEST(MemoryPolicy, TheConfigDefaultsAreThePolicyDefaults) {
  const MemoryPolicy from_config = policy_from(config::defaults());
  const MemoryPolicy plain;
  EXPECT_EQ(from_config.dim, plain.dim);
  EXPECT_EQ(from_config.stm_ttl_us, plain.stm_ttl_us);
  EXPECT_EQ(from_config.mtm_ttl_us, plain.mtm_ttl_us);
  EXPECT_EQ(from_config.ltm_ttl_us, plain.ltm_ttl_us);
  EXPECT_EQ(from_config.stm_capacity, plain.stm_capacity);
  EXPECT_EQ(from_config.mtm_capacity, plain.mtm_capacity);
  EXPECT_EQ(from_config.ltm_capacity, plain.ltm_capacity);
  EXPECT_EQ(from_config.archive_retention_us, plain.archive_retention_us);
  EXPECT_EQ(from_config.max_content_bytes, plain.max_content_bytes);
  EXPECT_EQ(from_config.max_batch, plain.max_batch);
  EXPECT_EQ(from_config.max_items, plain.max_items);
  EXPECT_EQ(from_config.default_importance, plain.default_importance);
  EXPECT_EQ(from_config.max_tags, plain.max_tags);
  EXPECT_EQ(from_config.max_metadata, plain.max_metadata);
  EXPECT_EQ(from_config.health.initial_base, plain.health.initial_base);
  EXPECT_EQ(from_config.health.initial_scale, plain.health.initial_scale);
  EXPECT_EQ(from_config.health.decay_stm, plain.health.decay_stm);
  EXPECT_EQ(from_config.health.decay_mtm, plain.health.decay_mtm);
  EXPECT_EQ(from_config.health.decay_ltm, plain.health.decay_ltm);
  EXPECT_EQ(from_config.health.promote, plain.health.promote);
  EXPECT_EQ(from_config.health.demote, plain.health.demote);
  EXPECT_EQ(from_config.health.reinforce, plain.health.reinforce);
  EXPECT_EQ(from_config.default_k, plain.default_k);
  EXPECT_EQ(from_config.max_k, plain.max_k);
  EXPECT_EQ(from_config.health_weight, plain.health_weight);
  EXPECT_EQ(from_config.overfetch, plain.overfetch);
  EXPECT_EQ(from_config.index_m, plain.index_m);
  EXPECT_EQ(from_config.index_ef_construction, plain.index_ef_construction);
  EXPECT_EQ(from_config.index_ef_search, plain.index_ef_search);
  EXPECT_EQ(from_config.index_initial_capacity, plain.index_initial_capacity);
  EXPECT_EQ(from_config.index_exact_below, plain.index_exact_below);
  EXPECT_EQ(from_config.index_stm_exact_below, plain.index_stm_exact_below);
  EXPECT_EQ(from_config.index_rebuild_deleted_ratio, plain.index_rebuild_deleted_ratio);
  EXPECT_EQ(from_config.tubules.session_strength, plain.tubules.session_strength);
  EXPECT_EQ(from_config.tubules.hebbian_rate, plain.tubules.hebbian_rate);
  EXPECT_EQ(from_config.tubules.decay_per_hour, plain.tubules.decay_per_hour);
  EXPECT_EQ(from_config.tubules.consolidate_at, plain.tubules.consolidate_at);
  EXPECT_EQ(from_config.tubules.prune_below, plain.tubules.prune_below);
  EXPECT_EQ(from_config.tubules.max_per_item, plain.tubules.max_per_item);
  EXPECT_EQ(from_config.tubules.spread_min, plain.tubules.spread_min);
  EXPECT_EQ(from_config.tubules.spread_factor, plain.tubules.spread_factor);
  EXPECT_EQ(from_config.session_window, plain.session_window);
  EXPECT_EQ(from_config.rrf_k, plain.rrf_k);
  EXPECT_EQ(from_config.vector_weight, plain.vector_weight);
  EXPECT_EQ(from_config.lexical_weight, plain.lexical_weight);
  EXPECT_EQ(from_config.recall_mode, plain.recall_mode);
  EXPECT_EQ(from_config.recall_spread, plain.recall_spread);
  EXPECT_EQ(from_config.lymphatic_enabled, plain.lymphatic_enabled);
  EXPECT_EQ(from_config.lymphatic_interval_us, plain.lymphatic_interval_us);
  EXPECT_EQ(from_config.lymphatic_batch, plain.lymphatic_batch);
  EXPECT_EQ(from_config.merge_threshold, plain.merge_threshold);
  EXPECT_EQ(from_config.annealing_schedule, plain.annealing_schedule);
  EXPECT_EQ(from_config.annealing_intensity, plain.annealing_intensity);
  EXPECT_EQ(from_config.annealing_max, plain.annealing_max);
  EXPECT_EQ(from_config.working_size, plain.working_size);
}

TEST(MemoryPolicy, TextKeysReachThePolicy) {
  config::Settings s = config::defaults();
  ASSERT_NE(policy_from(s).recall_mode, "vector");
  ASSERT_NE(policy_from(s).annealing_schedule, "progressive");
  ASSERT_TRUE(config::set(s, "recall.mode", "vector").ok());
  ASSERT_TRUE(config::set(s, "annealing.schedule", "progressive").ok());
  EXPECT_EQ(policy_from(s).recall_mode, "vector");
  EXPECT_EQ(policy_from(s).annealing_schedule, "progressive");
}

TEST(MemoryPolicy, ZeroMeansNoTtlAndNoCapacityLimitForLongTermMemory) {
  config::Settings s = config::defaults();
  ASSERT_TRUE(config::set(s, "memory.ltm-ttl", "0s").ok());
  ASSERT_TRUE(config::set(s, "memory.ltm-capacity", "0").ok());
  MemoryPolicy p = policy_from(s);
  EXPECT_EQ(p.ttl_us(pb::LTM), 0);
  EXPECT_EQ(p.capacity(pb::LTM), 0u);
}

TEST(MemoryPolicy, TierNames) {
  EXPECT_STREQ(tier_name(pb::STM), "stm");
  EXPECT_STREQ(tier_name(pb::MTM), "mtm");
  EXPECT_STREQ(tier_name(pb::LTM), "ltm");
  MemoryPolicy p;
  EXPECT_EQ(p.ttl_us(pb::STM), p.stm_ttl_us);
  EXPECT_EQ(p.ttl_us(pb::MTM), p.mtm_ttl_us);
}

}  // namespace
}  // namespace nca
