// The persona writer's cognitive dynamics: session tubules, links through forget/restore, Hebbian
// strengthening, explicit links, and applying a consolidation plan (moves, forgetting, merges).
#include <gtest/gtest.h>

#include <filesystem>

#include "runtime/persona_writer.hpp"
#include "tests/runtime/persona_writer_fixture.hpp"

namespace nca {
namespace {

class PersonaDynamicsTest : public testing::PersonaWriterFixture {
 protected:
  std::unique_ptr<PersonaWriter> open_writer() { return make_writer("ada"); }
  std::string remember(const std::string& content, const std::string& session = "",
                       std::vector<float> vec = {1, 0, 0, 0}) {
    auto p = commit(writer_->plan_remember({input(content, "", session)}, {vec}, false, ""));
    return p.response.remember().item().id();
  }
};

TEST_F(PersonaDynamicsTest, SessionItemsLinkToTheLastTwoOfTheirSession) {
  std::string a = remember("a", "s1");
  std::string b = remember("b", "s1");
  std::string other = remember("x", "s2");
  std::string c = remember("c", "s1");
  std::string d = remember("d", "s1");
  const auto& g = writer_->tubules();
  EXPECT_NE(g.find(a, b), nullptr);
  EXPECT_NE(g.find(a, c), nullptr);
  EXPECT_EQ(g.find(a, d), nullptr) << "window of two";
  EXPECT_NE(g.find(c, d), nullptr);
  EXPECT_EQ(g.find(b, other), nullptr) << "sessions do not mix";
  EXPECT_DOUBLE_EQ(g.find(a, b)->strength, 0.3);
  // Links are stored: a reopened writer has them, and its session tail continues the session.
  auto w2 = open_writer();
  EXPECT_EQ(w2->tubules().size(), g.size());
  writer_ = std::move(w2);
  std::string e = remember("e", "s1");
  EXPECT_NE(writer_->tubules().find(d, e), nullptr);
  EXPECT_NE(writer_->tubules().find(c, e), nullptr);
}

TEST_F(PersonaDynamicsTest, ForgetTakesLinksToTheArchiveAndRestoreBringsThemBack) {
  std::string a = remember("a", "s");
  std::string b = remember("b", "s");
  commit(writer_->plan_forget(a, "", ""));
  EXPECT_EQ(writer_->tubules().find(a, b), nullptr);
  commit(writer_->plan_restore(a, ""));
  ASSERT_NE(writer_->tubules().find(a, b), nullptr);
  EXPECT_DOUBLE_EQ(writer_->tubules().find(a, b)->strength, 0.3);
  auto w2 = open_writer();
  EXPECT_NE(w2->tubules().find(a, b), nullptr) << "restored links are stored";
}

TEST_F(PersonaDynamicsTest, RecallStrengthensCoRetrievedItemsAndExplicitLinks) {
  std::string a = remember("a");
  std::string b = remember("b");
  std::string c = remember("c");
  commit(writer_->plan_recalled({a, b}));
  ASSERT_NE(writer_->tubules().find(a, b), nullptr);
  EXPECT_NEAR(writer_->tubules().find(a, b)->strength, 0.1, 1e-12);
  EXPECT_EQ(writer_->read_item(a)->access_count(), 1u);
  auto linked = commit(writer_->plan_link(a, c, 0.8));
  EXPECT_DOUBLE_EQ(linked.response.link().tubule().strength(), 0.8);
  auto n = writer_->neighbours(a);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n->neighbours_size(), 2);
  EXPECT_EQ(n->neighbours(0).item_id(), c);
  EXPECT_TRUE(n->neighbours(0).consolidated());
  commit(writer_->plan_unlink(a, c));
  EXPECT_EQ(writer_->plan_unlink(a, c).code(), ErrorCode::not_found);
  EXPECT_EQ(writer_->plan_link(a, "nope", 0.5).code(), ErrorCode::not_found);
}

TEST_F(PersonaDynamicsTest, ConsolidationMovesForgetsAndMerges) {
  std::string up = remember("climber");
  std::string gone = remember("fader");
  std::string keep = remember("keeper", "s");
  std::string dup = remember("duplicate", "s");
  std::string friend_of_dup = remember("friend");
  commit(writer_->plan_link(dup, friend_of_dup, 0.5));
  std::vector<ConsolidationAction> actions(3);
  actions[0].kind = ConsolidationAction::promote;
  actions[0].id = up;
  actions[0].from = pb::STM;
  actions[0].to = pb::MTM;
  actions[0].reason = "health";
  actions[1].kind = ConsolidationAction::forget;
  actions[1].id = gone;
  actions[1].from = actions[1].to = pb::STM;
  actions[1].reason = "ttl";
  actions[2].kind = ConsolidationAction::merge;
  actions[2].id = dup;
  actions[2].merge_into = keep;
  actions[2].from = actions[2].to = pb::STM;
  actions[2].reason = "duplicate";
  auto plan = commit(writer_->plan_consolidation(actions, 0.5, 5, 100));
  const auto& tick = plan.response.consolidate().tick();
  EXPECT_EQ(tick.promoted(), 1u);
  EXPECT_EQ(tick.forgotten(), 1u);
  EXPECT_EQ(tick.merged(), 1u);
  EXPECT_EQ(plan.response.consolidate().total().ticks(), 1u);
  EXPECT_EQ(writer_->read_item(up)->tier(), pb::MTM);
  EXPECT_EQ(writer_->read_item(gone).code(), ErrorCode::not_found);
  auto kept = *writer_->read_item(keep);
  ASSERT_EQ(kept.consolidated_from_size(), 1);
  EXPECT_EQ(kept.consolidated_from(0), dup);
  EXPECT_NE(writer_->tubules().find(keep, friend_of_dup), nullptr) << "links follow the merge";
  pb::ListRequest archived;
  archived.set_archived(true);
  EXPECT_EQ(writer_->list(archived)->archived_size(), 2);
  auto hist = writer_->history(up);
  EXPECT_EQ(hist->records(hist->records_size() - 1).action(), pb::PROMOTE);
  auto dup_hist = writer_->history(dup);
  EXPECT_EQ(dup_hist->records(dup_hist->records_size() - 1).action(), pb::MERGE);
  // Archive retention: after 31 days a tick removes the archived items for good.
  clock_.advance_us(31 * kUsPerDay);
  auto later = commit(writer_->plan_consolidation({}, 0, 0, 100));
  EXPECT_EQ(later.response.consolidate().tick().archive_expired(), 2u);
  EXPECT_EQ(writer_->list(archived)->archived_size(), 0);
}

}  // namespace
}  // namespace nca
