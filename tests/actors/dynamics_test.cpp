// Cognitive dynamics end to end, with a simulated clock that walks hours and days: tiers, forgetting and
// restoring, capacity, merging, annealing, tubules, hybrid recall and working memory.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/actors/node_test_util.hpp"

namespace nca {
namespace {

using testing::NodeFixture;
using testing::wait_until;

class DynamicsTest : public NodeFixture {
 protected:
  void customize(config::Settings& s) override {
    clock_ = &manual_;
    s.lymphatic.enabled = false;  // ticks on demand only, so the test decides when
    tweak(s);
  }
  virtual void tweak(config::Settings&) {}

  std::string remember(const std::string& content, double importance = 0.5,
                       const std::string& session = "", std::vector<float> vec = {}) {
    pb::MemoryInput in;
    in.set_content(content);
    in.set_importance(importance);
    in.set_session_id(session);
    for (float f : vec) in.add_embedding(f);
    auto r = client_->remember("ada", in);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r->item().id() : std::string();
  }
  pb::Tier tier_of(const std::string& id) {
    auto got = client_->get(id);
    return got.ok() ? got->item().tier() : pb::TIER_UNSPECIFIED;
  }
  pb::ConsolidationCounters tick() {
    auto r = client_->consolidate("ada");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r->tick() : pb::ConsolidationCounters{};
  }
  static std::vector<float> unit(int axis, float tilt = 0, int tilt_axis = 1) {
    std::vector<float> v(64, 0.f);
    v[static_cast<size_t>(axis)] = 1.f;
    if (tilt != 0) v[static_cast<size_t>(tilt_axis)] = tilt;
    return v;
  }

  ManualClock manual_;
};

TEST_F(DynamicsTest, AnItemRecalledOftenClimbsFromShortToLongTerm) {
  std::string id = remember("the office wifi password is tulip-42");
  remember("lunch was a sandwich");
  EXPECT_EQ(tier_of(id), pb::STM);
  uint64_t accesses = 0;
  for (int hour = 0; hour < 12 && tier_of(id) != pb::LTM; ++hour) {
    manual_.advance_hours(1);
    for (int i = 0; i < 3; ++i) {
      auto r = client_->recall("ada", "office wifi password", 1);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->hits(0).item().id(), id);
      ++accesses;
      // Reinforcement happens after the reply: wait until it is applied.
      ASSERT_TRUE(wait_until([&] { return client_->get(id)->item().access_count() >= accesses; }));
    }
    tick();
  }
  EXPECT_EQ(tier_of(id), pb::LTM);
  std::vector<pb::HistoryAction> moves;
  auto history = client_->history(id);
  ASSERT_TRUE(history.ok());
  for (const auto& h : history->records()) {
    if (h.action() == pb::PROMOTE) moves.push_back(h.action());
  }
  EXPECT_EQ(moves.size(), 2u) << "STM -> MTM -> LTM";
}

TEST_F(DynamicsTest, UntouchedItemsAreForgottenAfterTheirTtlAndRestoredWithTierAndLinks) {
  std::string a = remember("we met at the harbour", 0.5, "trip");
  std::string b = remember("then we had dinner by the sea", 0.5, "trip");
  ASSERT_EQ(client_->neighbours(a)->neighbours_size(), 1);
  manual_.advance_hours(2);
  EXPECT_EQ(tick().forgotten(), 0u) << "within the 3 h STM TTL";
  manual_.advance_hours(2);
  auto t = tick();
  EXPECT_EQ(t.forgotten(), 2u);
  EXPECT_EQ(client_->get(a).code(), ErrorCode::not_found);
  pb::ListRequest archived;
  archived.set_persona_id("ada");
  archived.set_archived(true);
  auto arch = client_->list(archived);
  ASSERT_EQ(arch->archived_size(), 2);
  EXPECT_EQ(arch->archived(0).reason(), "consolidation: ttl");
  ASSERT_TRUE(client_->restore(a).ok());
  ASSERT_TRUE(client_->restore(b).ok());
  EXPECT_EQ(tier_of(a), pb::STM);
  auto n = client_->neighbours(a);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->neighbours_size(), 1) << "the session link came back with the items";
  EXPECT_EQ(n->neighbours(0).item_id(), b);
}

class CapacityTest : public DynamicsTest {
  void tweak(config::Settings& s) override { s.memory.stm_capacity = 3; }
};

TEST_F(CapacityTest, OverflowRemovesTheLeastHealthyFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(remember("memory " + std::to_string(i), 0.1 + 0.2 * i));
  auto t = tick();
  EXPECT_EQ(t.capacity_evicted(), 2u);
  EXPECT_EQ(client_->get(ids[0]).code(), ErrorCode::not_found);
  EXPECT_EQ(client_->get(ids[1]).code(), ErrorCode::not_found);
  for (int i = 2; i < 5; ++i) EXPECT_TRUE(client_->get(ids[static_cast<size_t>(i)]).ok());
}

TEST_F(DynamicsTest, NearDuplicatesMergeWithLineage) {
  std::string keep = remember("Ada drinks green tea every morning", 0.9, "", unit(3));
  std::string dup = remember("Every morning Ada drinks green tea", 0.2, "", unit(3, 0.05f));
  std::string other = remember("Ada's car is red", 0.5, "", unit(7));
  auto t = tick();
  EXPECT_EQ(t.merged(), 1u);
  auto kept = client_->get(keep);
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->item().consolidated_from_size(), 1);
  EXPECT_EQ(kept->item().consolidated_from(0), dup);
  EXPECT_EQ(client_->get(dup).code(), ErrorCode::not_found);
  EXPECT_TRUE(client_->get(other).ok());
  auto hist = client_->history(dup);
  EXPECT_EQ(hist->records(hist->records_size() - 1).action(), pb::MERGE);
}

class HotAnnealingTest : public DynamicsTest {
  void tweak(config::Settings& s) override {
    s.annealing.schedule = "fixed";
    s.annealing.intensity = 1.5;
  }
};

// An LTM item of importance 0 starts at health 40 and decays at 0.001/h × (1 + T). After 400 hours it is
// at 26.8 when cold (T ≈ 0: stays in LTM) and at 14.7 when hot (T = 1.5: below 20, demoted).
std::string remember_weak_ltm(DynamicsTest& t, Client& client) {
  pb::MemoryInput in;
  in.set_content("an old weak long-term fact");
  in.set_importance(0.0);
  in.set_tier(pb::LTM);
  auto r = client.remember("ada", in);
  EXPECT_TRUE(r.ok());
  (void)t;
  return r.ok() ? r->item().id() : std::string();
}

TEST_F(DynamicsTest, ColdPersonaKeepsWeakLongTermMemoriesAndMergesOnlyCloseDuplicates) {
  std::string weak = remember_weak_ltm(*this, *client_);
  remember("similar a", 0.5, "", unit(10, 0.6f, 11));
  remember("similar b", 0.5, "", unit(10, 0.0f, 11));  // cosine 0.857 with a
  manual_.advance_hours(400);
  auto t = tick();
  EXPECT_LT(client_->stats("ada")->persona(0).temperature(), 0.01) << "adaptive, no pressure";
  EXPECT_EQ(t.merged(), 0u) << "cosine 0.86 is below 0.95 - 0.1 T at T ~ 0";
  EXPECT_EQ(tier_of(weak), pb::LTM);
}

TEST_F(HotAnnealingTest, HighTemperatureMergesLooserDuplicatesAndDecaysFaster) {
  std::string weak = remember_weak_ltm(*this, *client_);
  remember("similar a", 0.5, "", unit(10, 0.6f, 11));
  remember("similar b", 0.5, "", unit(10, 0.0f, 11));  // cosine 0.857
  auto t = tick();
  EXPECT_EQ(t.merged(), 1u) << "at T = 1.5 the threshold is 0.95 - 0.15 = 0.80";
  manual_.advance_hours(400);
  tick();
  EXPECT_EQ(tier_of(weak), pb::MTM) << "decayed below 20 at T = 1.5: demoted";
  auto stats = client_->stats("ada");
  EXPECT_DOUBLE_EQ(stats->persona(0).temperature(), 1.5);
  EXPECT_DOUBLE_EQ(stats->persona(0).consolidation().temperature(), 1.5);
}

class ProgressiveAnnealingTest : public DynamicsTest {
  void tweak(config::Settings& s) override {
    s.annealing.schedule = "progressive";
    s.annealing.intensity = 1.0;
  }
};

TEST_F(ProgressiveAnnealingTest, TemperatureRisesWithIdleTime) {
  remember("something");
  tick();
  EXPECT_LT(client_->stats("ada")->persona(0).temperature(), 0.01) << "just active";
  manual_.advance_hours(6);
  tick();
  EXPECT_NEAR(client_->stats("ada")->persona(0).temperature(), 1 - std::exp(-1.0), 1e-6);
}

class AdaptiveAnnealingTest : public DynamicsTest {
  void tweak(config::Settings& s) override {
    s.annealing.schedule = "adaptive";
    s.annealing.intensity = 1.0;
    s.memory.stm_capacity = 4;
  }
};

TEST_F(AdaptiveAnnealingTest, TemperatureFollowsMemoryPressure) {
  remember("one", 0.5, "", unit(1));
  remember("two", 0.5, "", unit(2));
  tick();
  EXPECT_NEAR(client_->stats("ada")->persona(0).temperature(), 0.5, 1e-9) << "2 of 4";
}

TEST_F(DynamicsTest, TubulesFormStrengthenConsolidateDecayAndArePruned) {
  std::string a = remember("first turn about the garden", 0.5, "s1");
  std::string b = remember("second turn about roses", 0.5, "s1");
  std::string c = remember("unrelated note on taxes", 0.5, "s2");
  auto n = client_->neighbours(a);
  ASSERT_EQ(n->neighbours_size(), 1);
  EXPECT_NEAR(n->neighbours(0).strength(), 0.3, 1e-9);
  // Explicit link at 0.8: consolidated, never decays.
  ASSERT_TRUE(client_->link(a, c, 0.8).ok());
  EXPECT_TRUE(client_->neighbours(c)->neighbours(0).consolidated());
  // Recalled together: Hebbian strengthening of a-b.
  pb::RecallRequest r;
  r.set_persona_id("ada");
  r.set_query("garden roses turn");
  r.set_k(2);
  r.set_spread(false);
  auto hits = client_->recall(r);
  ASSERT_EQ(hits->hits_size(), 2);
  ASSERT_TRUE(wait_until([&] { return client_->neighbours(b)->neighbours(0).strength() > 0.3; }));
  double strengthened = client_->neighbours(b)->neighbours(0).strength();
  EXPECT_NEAR(strengthened, 0.3 + 0.1 * 0.7, 1e-6);
  // Decay: 200 hours later a-b is weak (< 0.2), a-c is not.
  manual_.advance_hours(200);
  auto na = client_->neighbours(a);
  for (const auto& x : na->neighbours()) {
    if (x.item_id() == b) {
      EXPECT_LT(x.strength(), 0.2);
    }
    if (x.item_id() == c) {
      EXPECT_DOUBLE_EQ(x.strength(), 0.8);
    }
  }
  // Pruned once below tubules.threshold (0.05): 0.37 e^(-0.01 h) < 0.05 after ~200 h more.
  manual_.advance_hours(200);
  // Keep the items alive through the tick: they live in STM whose TTL would forget them.
  for (const auto& id : {a, b, c}) ASSERT_TRUE(client_->touch(id).ok());
  auto t = tick();
  EXPECT_GE(t.tubules_pruned(), 1u);
  auto after = client_->neighbours(b);
  EXPECT_EQ(after->neighbours_size(), 0);
  EXPECT_EQ(client_->neighbours(a)->neighbours_size(), 1) << "the consolidated link stays";
  ASSERT_TRUE(client_->unlink(a, c).ok());
  EXPECT_EQ(client_->neighbours(a)->neighbours_size(), 0);
}

TEST_F(DynamicsTest, HybridRecallReportsItsPartsAndSpreadsAlongTubules) {
  std::string q = remember("What did Caroline research for her project?", 0.5, "s1");
  std::string ans = remember("She looked into adoption agencies last week", 0.5, "s1");
  remember("The weather in Paris was rainy", 0.5, "s2");
  pb::RecallRequest r;
  r.set_persona_id("ada");
  r.set_query("Caroline research project");
  r.set_k(2);
  r.set_no_reinforce(true);
  auto hits = client_->recall(r);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->hits_size(), 2);
  EXPECT_EQ(hits->hits(0).item().id(), q);
  EXPECT_GT(hits->hits(0).lexical_rank(), 0u);
  EXPECT_GT(hits->hits(0).vector_rank(), 0u);
  EXPECT_EQ(hits->hits(1).item().id(), ans) << "the session neighbour is pulled up";
  EXPECT_GT(hits->hits(1).activation(), 0);
  // Lexically only the question matches; its session neighbour comes in through the tubule.
  r.set_mode(pb::LEXICAL);
  auto lexical = client_->recall(r);
  ASSERT_EQ(lexical->hits_size(), 2);
  EXPECT_EQ(lexical->hits(0).vector_rank(), 0u);
  EXPECT_EQ(lexical->hits(1).item().id(), ans);
  EXPECT_EQ(lexical->hits(1).lexical_rank(), 0u);
  EXPECT_EQ(lexical->hits(1).via_item_id(), q);
  r.set_spread(false);
  auto plain = client_->recall(r);
  ASSERT_EQ(plain->hits_size(), 1) << "only one turn shares words with the query";
}

TEST_F(DynamicsTest, WorkingMemoryHoldsTheMostActiveItems) {
  std::string old_one = remember("old news", 0.9);
  manual_.advance_hours(48);
  std::string fresh = remember("fresh news", 0.5);
  std::string touched = remember("touched news", 0.5);
  ASSERT_TRUE(client_->touch(touched).ok());
  auto ctx = client_->context("ada", 2);
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  ASSERT_EQ(ctx->items_size(), 2);
  EXPECT_EQ(ctx->items(0).item().id(), touched);
  EXPECT_EQ(ctx->items(1).item().id(), fresh);
  EXPECT_GT(ctx->items(0).activation(), ctx->items(1).activation());
  (void)old_one;
}

class BatchBoundTest : public DynamicsTest {
  void tweak(config::Settings& s) override {
    s.lymphatic.batch_size = 25;
    s.memory.stm_capacity = 10000;
  }
};

TEST_F(BatchBoundTest, ATickChecksAtMostItsBatch) {
  std::vector<pb::MemoryInput> batch;
  for (int i = 0; i < 200; ++i) {
    pb::MemoryInput in;
    in.set_content("note number " + std::to_string(i));
    batch.push_back(in);
  }
  ASSERT_TRUE(client_->remember_batch("ada", batch).ok());
  manual_.advance_hours(4);
  size_t forgotten = 0;
  for (int i = 0; i < 8; ++i) {
    auto t = tick();
    EXPECT_LE(t.checked(), 25u);
    EXPECT_LE(t.forgotten(), 25u);
    forgotten += t.forgotten();
  }
  EXPECT_EQ(forgotten, 200u) << "eight ticks of 25 reach every item";
}

}  // namespace
}  // namespace nca
