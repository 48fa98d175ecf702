#include "runtime/consolidation_planner.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "runtime/annealing.hpp"
#include "runtime/clock.hpp"

namespace nca {
namespace {

// A persona's items as a tier manager would hold them, applying plans the way the caller will.
class World {
 public:
  World(MemoryPolicy policy, ManualClock* clock)
      : policy_(policy), health_(policy.health), clock_(clock) {}

  void add(const std::string& id, pb::Tier tier, double health_value) {
    ItemMeta m;
    m.id = id;
    m.health = {health_value, clock_->now_us()};
    m.stored_at_us = clock_->now_us();
    m.created_at_us = clock_->now_us();
    m.tier_entered_at_us = clock_->now_us();
    items_[id] = {tier, m};
  }

  void touch(const std::string& id) {
    auto& [tier, m] = items_.at(id);
    m.health = health_.reinforced(m.health, tier, clock_->now_us(), temperature_);
    m.access_count += 1;
    m.last_access_us = clock_->now_us();
  }

  ConsolidationInput input() const {
    ConsolidationInput in;
    for (const auto& [id, entry] : items_) {
      auto* list = entry.first == pb::STM ? &in.stm : entry.first == pb::MTM ? &in.mtm : &in.ltm;
      list->push_back(&entry.second);
    }
    return in;
  }

  ConsolidationPlan tick(const SimilarItems& similar = {}) {
    auto plan = plan_consolidation(input(), policy_, health_, temperature_, clock_->now_us(),
                                   options_, cursor_, similar);
    EXPECT_TRUE(plan.ok()) << plan.error().to_string();
    if (!plan.ok()) return {};
    apply(*plan);
    return *plan;
  }

  void apply(const ConsolidationPlan& plan) {
    TimeUs now = clock_->now_us();
    for (const auto& a : plan.actions) {
      auto& [tier, m] = items_.at(a.id);
      EXPECT_EQ(tier, a.from) << a.id;
      switch (a.kind) {
        case ConsolidationAction::promote:
        case ConsolidationAction::demote:
          m.health = {health_.at(m.health, tier, now, temperature_), now};
          m.tier_entered_at_us = now;
          tier = a.to;
          break;
        case ConsolidationAction::forget:
        case ConsolidationAction::merge:
          items_.erase(a.id);
          break;
      }
    }
    cursor_.advance(plan, now);
  }

  void set_stored_at(const std::string& id, TimeUs t) { items_.at(id).second.stored_at_us = t; }
  bool has(const std::string& id) const { return items_.count(id) != 0; }
  pb::Tier tier_of(const std::string& id) const { return items_.at(id).first; }
  size_t count(pb::Tier tier) const {
    size_t n = 0;
    for (const auto& kv : items_) n += kv.second.first == tier ? 1 : 0;
    return n;
  }
  double temperature_ = 0;
  ConsolidationOptions options_;
  MemoryPolicy policy_;

 private:
  HealthModel health_;
  ManualClock* clock_;
  std::map<std::string, std::pair<pb::Tier, ItemMeta>> items_;
  ConsolidationCursor cursor_;
};

const ConsolidationAction* find_action(const ConsolidationPlan& plan, const std::string& id) {
  for (const auto& a : plan.actions) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

std::string item(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "item-%04d", i);
  return buf;
}

TEST(ConsolidationPlanner, ReinforcedItemClimbsStmToMtmToLtm) {
  ManualClock clock;
  World w(MemoryPolicy{}, &clock);
  w.add("often", pb::STM, 60);
  w.add("never", pb::STM, 60);
  std::vector<pb::Tier> path{pb::STM};
  for (int hour = 0; hour < 48; ++hour) {
    clock.advance_hours(1);
    if (w.has("often")) w.touch("often");
    w.tick();
    if (w.tier_of("often") != path.back()) path.push_back(w.tier_of("often"));
  }
  EXPECT_EQ(path, (std::vector<pb::Tier>{pb::STM, pb::MTM, pb::LTM}));
  EXPECT_FALSE(w.has("never")) << "the untouched sibling is forgotten";
}

TEST(ConsolidationPlanner, UntouchedStmItemIsForgottenAfterItsTtl) {
  ManualClock clock;
  World w(MemoryPolicy{}, &clock);
  w.add("idle", pb::STM, 60);
  clock.advance_hours(2.9);
  auto plan = w.tick();
  EXPECT_TRUE(plan.actions.empty());
  EXPECT_EQ(plan.counts.checked, 1u);
  clock.advance_hours(0.2);
  plan = w.tick();
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].kind, ConsolidationAction::forget);
  EXPECT_EQ(plan.actions[0].reason, "ttl");
  EXPECT_EQ(plan.counts.forgotten, 1u);
  EXPECT_FALSE(w.has("idle"));
}

TEST(ConsolidationPlanner, TtlRunsFromLastAccessAndExpiredHealthyItemsArePromoted) {
  ManualClock clock;
  MemoryPolicy policy;
  policy.mtm_ttl_us = kUsPerDay;
  World w(policy, &clock);
  w.add("accessed", pb::STM, 60);
  w.add("mtm", pb::MTM, 60);
  clock.advance_hours(2);
  w.touch("accessed");
  clock.advance_hours(2);  // 4 h after storing, 2 h after the access
  auto plan = w.tick();
  EXPECT_EQ(find_action(plan, "accessed"), nullptr);
  clock.advance_hours(21);
  plan = w.tick();
  const ConsolidationAction* a = find_action(plan, "mtm");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->kind, ConsolidationAction::demote);
  EXPECT_EQ(a->reason, "ttl");
  EXPECT_EQ(a->to, pb::STM);

  // Healthy at expiry: promoted, not forgotten.
  World h(MemoryPolicy{}, &clock);
  h.add("strong", pb::STM, 100);
  clock.advance_hours(3);  // 100·e^(−0.15) ≈ 86
  plan = h.tick();
  a = find_action(plan, "strong");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->kind, ConsolidationAction::promote);
  EXPECT_EQ(a->reason, "ttl");
}

TEST(ConsolidationPlanner, LowHealthDemotesAndForgetsInStm) {
  ManualClock clock;
  World w(MemoryPolicy{}, &clock);
  w.add("mtm", pb::MTM, 25);  // < 20 after ~22.3 h
  w.add("ltm", pb::LTM, 21);  // < 20 after ~48.8 h
  w.add("stm", pb::STM, 19.9);
  auto plan = w.tick();
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].id, "stm");
  EXPECT_EQ(plan.actions[0].kind, ConsolidationAction::forget);
  EXPECT_EQ(plan.actions[0].reason, "low_health");

  clock.advance_hours(20);
  EXPECT_TRUE(w.tick().actions.empty());
  clock.advance_hours(4);
  plan = w.tick();
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].id, "mtm");
  EXPECT_EQ(plan.actions[0].kind, ConsolidationAction::demote);
  EXPECT_EQ(plan.actions[0].to, pb::STM);
  EXPECT_EQ(plan.actions[0].reason, "low_health");
  EXPECT_EQ(plan.counts.demoted, 1u);

  clock.advance_hours(26);  // 50 h
  plan = w.tick();
  const ConsolidationAction* a = find_action(plan, "ltm");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->kind, ConsolidationAction::demote);
  EXPECT_EQ(a->to, pb::MTM);
  EXPECT_EQ(w.tier_of("ltm"), pb::MTM);
}

TEST(ConsolidationPlanner, CapacityRemovesTheLeastHealthyFirstCountingOwnMoves) {
  ManualClock clock;
  MemoryPolicy policy;
  policy.stm_capacity = 5;
  policy.mtm_capacity = 1;
  World w(policy, &clock);
  for (int i = 0; i < 8; ++i) w.add(item(i), pb::STM, 40 + 5 * i);  // 40..75
  w.add("promoted", pb::STM, 90);                                   // leaves STM this tick
  w.add("mtm-strong", pb::MTM, 70);
  w.add("mtm-weak", pb::MTM, 50);  // over MTM capacity: demoted into STM
  auto plan = w.tick();
  // MTM: 2 + 1 promoted = 3 > 1 → both old MTM items demoted; STM: 9 − 1 + 2 = 10 > 5 → 5 go.
  EXPECT_EQ(plan.counts.capacity_evicted, 7u);
  const ConsolidationAction* up = find_action(plan, "promoted");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->kind, ConsolidationAction::promote);
  EXPECT_EQ(up->reason, "health");
  for (const char* id : {"mtm-weak", "mtm-strong"}) {
    const ConsolidationAction* down = find_action(plan, id);
    ASSERT_NE(down, nullptr) << id;
    EXPECT_EQ(down->kind, ConsolidationAction::demote);
    EXPECT_EQ(down->reason, "capacity");
  }
  for (int i = 0; i < 5; ++i) {
    const ConsolidationAction* a = find_action(plan, item(i));
    ASSERT_NE(a, nullptr) << item(i);
    EXPECT_EQ(a->kind, ConsolidationAction::forget);
    EXPECT_EQ(a->reason, "capacity");
  }
  for (int i = 5; i < 8; ++i) EXPECT_EQ(find_action(plan, item(i)), nullptr) << item(i);
  EXPECT_EQ(plan.actions.size(), 8u) << "no item gets two actions";
  EXPECT_EQ(w.count(pb::MTM), 1u);
  EXPECT_EQ(w.count(pb::STM), 5u);
  plan = w.tick();
  EXPECT_EQ(plan.counts.capacity_evicted, 0u);
}

TEST(ConsolidationPlanner, NearDuplicatesMergeIntoTheHealthier) {
  ManualClock clock;
  World w(MemoryPolicy{}, &clock);
  w.add("a", pb::STM, 70);
  w.add("b", pb::STM, 60);
  w.add("c", pb::STM, 50);
  w.add("d", pb::STM, 50);  // same health, stored earlier: c goes into d
  w.set_stored_at("d", clock.now_us() - kUsPerHour);
  w.add("e", pb::STM, 90);  // promoted this tick, so not merged
  w.add("f", pb::STM, 60);
  w.add("m", pb::MTM, 60);  // another tier: never merged with STM items
  std::map<std::string, std::vector<std::pair<std::string, float>>> near{
      {"a", {{"b", 0.97f}, {"m", 0.99f}}},
      {"b", {{"a", 0.97f}}},
      {"c", {{"d", 0.96f}}},
      {"d", {{"c", 0.96f}}},
      {"e", {{"f", 0.99f}}},
      {"f", {{"e", 0.99f}}}};
  size_t calls = 0;
  SimilarItems similar = [&](const std::string& id, size_t) {
    ++calls;
    auto it = near.find(id);
    return it == near.end() ? std::vector<std::pair<std::string, float>>{} : it->second;
  };
  auto plan = w.tick(similar);
  EXPECT_EQ(plan.counts.merged, 2u);
  const ConsolidationAction* b = find_action(plan, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->kind, ConsolidationAction::merge);
  EXPECT_EQ(b->merge_into, "a");
  EXPECT_EQ(b->reason, "duplicate");
  const ConsolidationAction* c = find_action(plan, "c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->merge_into, "d") << "equal health: the older item stays";
  EXPECT_EQ(find_action(plan, "d"), nullptr);
  EXPECT_EQ(find_action(plan, "a"), nullptr);
  EXPECT_EQ(find_action(plan, "f"), nullptr);
  EXPECT_EQ(find_action(plan, "m"), nullptr);
  EXPECT_EQ(find_action(plan, "e")->kind, ConsolidationAction::promote);
  EXPECT_LE(calls, plan.counts.checked);
}

TEST(ConsolidationPlanner, HigherTemperatureMergesAtLowerSimilarity) {
  ManualClock clock;
  for (double t : {0.0, 0.5}) {
    World w(MemoryPolicy{}, &clock);
    w.temperature_ = t;
    w.add("x", pb::LTM, 70);
    w.add("y", pb::LTM, 60);
    SimilarItems similar = [](const std::string& id, size_t) {
      return std::vector<std::pair<std::string, float>>{{id == "x" ? "y" : "x", 0.92f}};
    };
    auto plan = w.tick(similar);
    EXPECT_NEAR(plan.merge_threshold, merge_threshold(0.95, t), 1e-12);
    EXPECT_EQ(plan.counts.merged, t == 0 ? 0u : 1u) << "T = " << t;
  }
}

TEST(ConsolidationPlanner, HigherTemperatureForgetsTheSameItemEarlier) {
  MemoryPolicy policy;
  policy.stm_ttl_us = 0;  // health alone decides
  std::map<double, int> forgotten_at_hour;
  for (double intensity : {0.0, 1.0}) {
    ManualClock clock;
    World w(policy, &clock);
    w.temperature_ = temperature(AnnealingSchedule::fixed, intensity, 0, 0);
    w.add("x", pb::STM, 60);
    for (int hour = 1; hour <= 48 && w.has("x"); ++hour) {
      clock.advance_hours(1);
      w.tick();
      if (!w.has("x")) forgotten_at_hour[intensity] = hour;
    }
  }
  // 60·e^(−0.05·h·(1+T)) < 20: h > 21.97 at T = 0, h > 10.99 at T = 1.
  EXPECT_EQ(forgotten_at_hour[0.0], 22);
  EXPECT_EQ(forgotten_at_hour[1.0], 11);
}

TEST(ConsolidationPlanner, BatchBoundHoldsAndTicksWalkOldestCheckedFirst) {
  unsigned seed = std::random_device{}();
  std::cout << "seed " << seed << "\n";
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> health(30, 75);
  ManualClock clock;
  MemoryPolicy policy;
  policy.stm_ttl_us = 0;
  policy.mtm_ttl_us = 0;
  policy.stm_capacity = 0;
  policy.mtm_capacity = 0;
  World w(policy, &clock);
  for (int i = 0; i < 1000; ++i) w.add(item(i), i % 3 == 0 ? pb::MTM : pb::STM, health(rng));
  std::map<std::string, int> times_checked;
  size_t calls = 0;
  SimilarItems similar = [&](const std::string&, size_t) {
    ++calls;
    return std::vector<std::pair<std::string, float>>{};
  };
  for (int tick = 0; tick < 10; ++tick) {
    calls = 0;
    auto plan = w.tick(similar);
    EXPECT_EQ(plan.counts.checked, 100u);
    EXPECT_EQ(plan.checked_ids.size(), 100u);
    EXPECT_LE(calls, 100u);
    EXPECT_TRUE(plan.actions.empty());
    for (const auto& id : plan.checked_ids) times_checked[id] += 1;
    clock.advance_us(1);
  }
  EXPECT_EQ(times_checked.size(), 1000u) << "ten ticks of 100 visit every item once";
  for (const auto& [id, n] : times_checked) EXPECT_EQ(n, 1) << id;
}

TEST(ConsolidationPlanner, CapacityOverflowDrainsAtMostBatchPerTick) {
  ManualClock clock;
  MemoryPolicy policy;
  policy.stm_capacity = 10;
  policy.stm_ttl_us = 0;
  World w(policy, &clock);
  for (int i = 0; i < 300; ++i) w.add(item(i), pb::STM, 30 + (i % 40));
  std::vector<size_t> evicted;
  for (int tick = 0; tick < 5 && w.count(pb::STM) > 10; ++tick) {
    evicted.push_back(w.tick().counts.capacity_evicted);
  }
  EXPECT_EQ(evicted, (std::vector<size_t>{100, 100, 90}));
  EXPECT_EQ(w.count(pb::STM), 10u);
  for (int i = 0; i < 300; ++i) {
    if (w.has(item(i))) {
      EXPECT_GE(i % 40, 38) << "only the healthiest survive: " << item(i);
    }
  }
}

TEST(ConsolidationPlanner, MergesNeverChainWithinOneTick) {
  ManualClock clock;
  World w(MemoryPolicy{}, &clock);
  w.add("x", pb::MTM, 50);
  w.add("y", pb::MTM, 60);
  w.add("z", pb::MTM, 70);
  SimilarItems similar = [](const std::string& id, size_t) {
    if (id == "x") return std::vector<std::pair<std::string, float>>{{"y", 0.97f}};
    if (id == "y") return std::vector<std::pair<std::string, float>>{{"x", 0.97f}, {"z", 0.97f}};
    return std::vector<std::pair<std::string, float>>{{"y", 0.97f}};
  };
  auto plan = w.tick(similar);
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].id, "x");
  EXPECT_EQ(plan.actions[0].merge_into, "y") << "y survives x, so it is not merged into z now";
  plan = w.tick(similar);
  ASSERT_EQ(plan.actions.size(), 1u);
  EXPECT_EQ(plan.actions[0].id, "y");
  EXPECT_EQ(plan.actions[0].merge_into, "z");
}

TEST(ConsolidationPlanner, CursorForgetsRemovedItems) {
  ConsolidationCursor cursor;
  ConsolidationPlan plan;
  plan.checked_ids = {"a", "b", "c"};
  ConsolidationAction gone;
  gone.kind = ConsolidationAction::forget;
  gone.id = "b";
  ConsolidationAction merged;
  merged.kind = ConsolidationAction::merge;
  merged.id = "c";
  merged.merge_into = "a";
  plan.actions = {gone, merged};
  cursor.advance(plan, 42);
  EXPECT_EQ(cursor.size(), 1u);
  EXPECT_EQ(cursor.last_checked("a"), 42);
  EXPECT_EQ(cursor.last_checked("b"), 0);
}

TEST(ConsolidationPlanner, BadInputIsRejected) {
  MemoryPolicy policy;
  HealthModel health;
  ConsolidationCursor cursor;
  ItemMeta m;
  m.id = "a";
  m.health = {50, 0};
  ConsolidationInput in;
  in.stm = {&m};
  ConsolidationOptions zero;
  zero.batch_size = 0;
  EXPECT_EQ(plan_consolidation(in, policy, health, 0, 0, zero, cursor).code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(plan_consolidation(in, policy, health, std::nan(""), 0, {}, cursor).code(),
            ErrorCode::invalid_argument);
  EXPECT_EQ(plan_consolidation(in, policy, health, -1, 0, {}, cursor).code(),
            ErrorCode::invalid_argument);
  ConsolidationInput dup = in;
  dup.mtm = {&m};
  EXPECT_EQ(plan_consolidation(dup, policy, health, 0, 0, {}, cursor).code(),
            ErrorCode::invalid_argument);
  ConsolidationInput null_item;
  null_item.ltm = {nullptr};
  EXPECT_EQ(plan_consolidation(null_item, policy, health, 0, 0, {}, cursor).code(),
            ErrorCode::invalid_argument);
  EXPECT_TRUE(plan_consolidation(in, policy, health, 0, 0, {}, cursor).ok());
}

}  // namespace
}  // namespace nca
