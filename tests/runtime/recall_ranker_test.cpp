#include "runtime/recall_ranker.hpp"

#include <gtest/gtest.h>

namespace nca {
namespace {

std::optional<double> full_health(const std::string&) { return 100.0; }

TEST(RecallRanker, HybridFusesRanksAndNormalises) {
  std::vector<ScoredId> vec = {{"a", 0.9}, {"b", 0.8}, {"c", 0.7}};
  std::vector<ScoredId> lex = {{"c", 12}, {"a", 9}};
  auto r = fuse(vec, lex, RankMode::hybrid, RankParams{}, full_health);
  sort_and_truncate(r, 10);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].id, "a");  // 1/61 + 1/62
  EXPECT_EQ(r[1].id, "c");  // 1/63 + 1/61
  EXPECT_EQ(r[2].id, "b");
  double best = 2.0 / 61.0;
  EXPECT_NEAR(r[0].fused, (1.0 / 61 + 1.0 / 62) / best, 1e-12);
  EXPECT_EQ(r[0].vector_rank, 1u);
  EXPECT_EQ(r[0].lexical_rank, 2u);
  EXPECT_EQ(r[2].lexical_rank, 0u);
  EXPECT_DOUBLE_EQ(r[0].score, r[0].fused) << "health 100 keeps the fused score";
}

TEST(RecallRanker, ModesIgnoreTheOtherList) {
  std::vector<ScoredId> vec = {{"a", 0.9}};
  std::vector<ScoredId> lex = {{"b", 3}};
  auto v = fuse(vec, lex, RankMode::vector, RankParams{}, full_health);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].id, "a");
  EXPECT_DOUBLE_EQ(v[0].fused, 1.0);
  auto l = fuse(vec, lex, RankMode::lexical, RankParams{}, full_health);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].id, "b");
}

TEST(RecallRanker, HealthBlendAndFilter) {
  std::vector<ScoredId> vec = {{"weak", 0.9}, {"strong", 0.89}, {"hidden", 0.5}};
  auto health = [](const std::string& id) -> std::optional<double> {
    if (id == "hidden") return std::nullopt;
    return id == "weak" ? 0.0 : 100.0;
  };
  auto r = fuse(vec, {}, RankMode::vector, RankParams{}, health);
  sort_and_truncate(r, 10);
  ASSERT_EQ(r.size(), 2u) << "filtered items are dropped";
  EXPECT_EQ(r[0].id, "strong") << "rank 2 at health 100 beats rank 1 at health 0";
  EXPECT_NEAR(r[1].score, 0.85, 1e-12);
}

TEST(RecallRanker, SpreadAddsReachedItemsWithTheirSource) {
  std::vector<ScoredId> vec = {{"a", 0.9}, {"b", 0.8}};
  auto r = fuse(vec, {}, RankMode::vector, RankParams{}, full_health);
  add_spread(r, {{"n", 0.4, "a"}, {"b", 0.1, "a"}, {"gone", 0.9, "a"}},
             [](const std::string& id) -> std::optional<double> {
               if (id == "gone") return std::nullopt;
               return 50.0;
             });
  sort_and_truncate(r, 2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, "b") << "activation adds to a ranked item's score";
  EXPECT_NEAR(r[0].activation, 0.1, 1e-12);
  EXPECT_EQ(r[1].id, "a");
  std::vector<RankedHit> r2 = fuse(vec, {}, RankMode::vector, RankParams{}, full_health);
  add_spread(r2, {{"n", 2.0, "a"}}, full_health);
  sort_and_truncate(r2, 1);
  EXPECT_EQ(r2[0].id, "n");
  EXPECT_EQ(r2[0].via, "a");
}

}  // namespace
}  // namespace nca
