#include "runtime/rank_fusion.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace nca {
namespace {

using Ranks = std::vector<uint32_t>;

TEST(RankFusionTest, HandComputedScoresAndRanks) {
  // vector: 10, 20, 30; lexical: 30, 40, 10.
  std::vector<Fused> f = rrf({{10, 20, 30}, {30, 40, 10}}, {1.0, 1.0});
  ASSERT_EQ(f.size(), 4u);
  // 10: 1/61 + 1/63; 30: 1/63 + 1/61 (equal: tie by doc id); 20: 1/62; 40: 1/62.
  EXPECT_EQ(f[0].doc, 10u);
  EXPECT_NEAR(f[0].score, 1.0 / 61 + 1.0 / 63, 1e-12);
  EXPECT_EQ(f[0].ranks, (Ranks{1, 3}));
  EXPECT_EQ(f[1].doc, 30u);
  EXPECT_NEAR(f[1].score, 1.0 / 63 + 1.0 / 61, 1e-12);
  EXPECT_EQ(f[1].ranks, (Ranks{3, 1}));
  EXPECT_EQ(f[2].doc, 20u);
  EXPECT_NEAR(f[2].score, 1.0 / 62, 1e-12);
  EXPECT_EQ(f[2].ranks, (Ranks{2, 0}));
  EXPECT_EQ(f[3].doc, 40u);
  EXPECT_EQ(f[3].ranks, (Ranks{0, 2}));
  EXPECT_EQ(f[2].score, f[3].score);  // exact tie, lower id first
}

TEST(RankFusionTest, AgreementBeatsOneListsTopPick) {
  // 7 is second in both lists; 1 and 2 each top only one list.
  std::vector<Fused> f = rrf({{1, 7}, {2, 7}}, {1, 1});
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].doc, 7u);
  EXPECT_NEAR(f[0].score, 2.0 / 62, 1e-12);
}

TEST(RankFusionTest, WeightsScaleEachListsContribution) {
  std::vector<Fused> f = rrf({{1, 2}, {2, 1}}, {3.0, 1.0}, 10);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].doc, 1u);
  EXPECT_NEAR(f[0].score, 3.0 / 11 + 1.0 / 12, 1e-12);
  EXPECT_EQ(f[1].doc, 2u);
  EXPECT_NEAR(f[1].score, 3.0 / 12 + 1.0 / 11, 1e-12);
  // Swapping the weights swaps the winner.
  f = rrf({{1, 2}, {2, 1}}, {1.0, 3.0}, 10);
  EXPECT_EQ(f[0].doc, 2u);
  // k = 0 is allowed: plain reciprocal rank.
  f = rrf({{5, 6}}, {1.0}, 0);
  EXPECT_NEAR(f[0].score, 1.0, 1e-12);
  EXPECT_NEAR(f[1].score, 0.5, 1e-12);
}

TEST(RankFusionTest, EmptyInputs) {
  EXPECT_TRUE(rrf({}, {}).empty());
  EXPECT_TRUE(rrf({{}, {}}, {1, 1}).empty());
  std::vector<Fused> f = rrf({{}, {4}}, {1, 1});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].ranks, (Ranks{0, 1}));
}

TEST(RankFusionTest, OddInputsAreHandledAsDocumented) {
  // Missing weights count 1.
  std::vector<Fused> f = rrf({{1}, {2}}, {});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].score, f[1].score);
  EXPECT_NEAR(f[0].score, 1.0 / 61, 1e-12);
  // A repeated document counts once, at its first rank; the positions after it keep their ranks.
  f = rrf({{3, 3, 4}}, {1});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].doc, 3u);
  EXPECT_EQ(f[0].ranks, (Ranks{1}));
  EXPECT_NEAR(f[0].score, 1.0 / 61, 1e-12);
  EXPECT_EQ(f[1].ranks, (Ranks{3}));
  // Negative and non-finite weights count 0 but ranks are recorded.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  f = rrf({{1}, {2}, {3}}, {-1.0, nan, 1.0});
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].doc, 3u);
  EXPECT_EQ(f[1].doc, 1u);
  EXPECT_EQ(f[1].score, 0.0);
  EXPECT_EQ(f[1].ranks, (Ranks{1, 0, 0}));
  EXPECT_EQ(f[2].ranks, (Ranks{0, 1, 0}));
  // A bad k falls back to 60.
  for (double bad_k : {-5.0, nan, std::numeric_limits<double>::infinity()}) {
    f = rrf({{9}}, {1}, bad_k);
    ASSERT_EQ(f.size(), 1u);
    EXPECT_NEAR(f[0].score, 1.0 / 61, 1e-12);
  }
}

}  // namespace
}  // namespace nca
