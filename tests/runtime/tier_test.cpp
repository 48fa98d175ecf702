// Tier: the index form each tier gets from the policy, and search through the tier's table.
#include "runtime/tier.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace nca {
namespace {

std::vector<float> unit(size_t dim, size_t hot) {
  std::vector<float> v(dim, 0.f);
  v[hot % dim] = 1.f;
  return v;
}

MemoryPolicy tier_policy() {
  MemoryPolicy p;
  p.dim = 8;
  p.index_exact_below = 4;
  p.index_stm_exact_below = 16;
  return p;
}

void fill(Tier& tier, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    ItemMeta m;
    m.id = "item-" + std::to_string(i);
    m.ordinal = i + 1;
    m.seq = i + 1;
    auto v = unit(8, i);
    ASSERT_TRUE(tier.upsert(m, v.data()).ok());
  }
}

TEST(TierTest, ShortTermMemoryStaysExactLongerThanTheOtherTiers) {
  const MemoryPolicy policy = tier_policy();
  const HealthModel health;
  Tier stm(pb::STM, policy, health), mtm(pb::MTM, policy, health), ltm(pb::LTM, policy, health);
  fill(stm, 10);
  fill(mtm, 10);
  fill(ltm, 10);
  EXPECT_TRUE(stm.index().is_exact());   // 10 < index_stm_exact_below
  EXPECT_FALSE(mtm.index().is_exact());  // 10 >= index_exact_below
  EXPECT_FALSE(ltm.index().is_exact());
  for (Tier* t : {&stm, &mtm, &ltm}) {
    auto q = unit(8, 3);
    auto hits = t->search(q.data(), 1, TierFilter{}, 0, 0);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].id, "item-3");  // 3 and 11 share the axis; only 0..9 exist
  }
  fill(stm, 16);
  EXPECT_FALSE(stm.index().is_exact());
  EXPECT_EQ(stm.size(), 16u);
}

}  // namespace
}  // namespace nca
