// The persona writer plans every change against committed storage; these tests commit its plans to
// a real Db and check records, history, archive, locators and the effects for the in-memory tiers.
#include "runtime/persona_writer.hpp"
#include "tests/runtime/persona_writer_fixture.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "storage/keys.hpp"

namespace nca {
namespace {

class PersonaWriterTest : public testing::PersonaWriterFixture {
 protected:
  std::string remember(const std::string& content, const std::string& id = "") {
    auto p = commit(writer_->plan_remember({input(content, id)}, {{1, 0, 0, 0}}, false, "r"));
    return p.response.remember().item().id();
  }
};

TEST_F(PersonaWriterTest, RememberWritesItemVectorLocatorHistoryAndEffects) {
  auto plan = commit(writer_->plan_remember({input("Ada likes tea")}, {{1, 0, 0, 0}}, false, "r1"));
  const auto& item = plan.response.remember().item();
  EXPECT_TRUE(plan.response.remember().created());
  EXPECT_EQ(item.tier(), pb::STM);
  EXPECT_DOUBLE_EQ(item.health(), 60.0);
  EXPECT_EQ(item.version(), 1u);
  ASSERT_EQ(plan.tier_effects.size(), 1u);
  EXPECT_EQ(plan.tier_effects[0].vec.size(), 4u);
  EXPECT_TRUE(plan.creates_persona);
  auto stored = writer_->read_item(item.id());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->content(), "Ada likes tea");
  auto vec = writer_->read_vector(item.id());
  ASSERT_TRUE(vec.ok());
  EXPECT_FLOAT_EQ((*vec)[0], 1.0f);
  auto hist = writer_->history(item.id());
  ASSERT_TRUE(hist.ok());
  ASSERT_EQ(hist->records_size(), 1);
  EXPECT_EQ(hist->records(0).action(), pb::ADD);
  EXPECT_EQ(hist->records(0).request_id(), "r1");
  EXPECT_TRUE(writer_->exists());
}

TEST_F(PersonaWriterTest, ClientIdIsIdempotentAndUniquePerTenant) {
  std::string id = remember("first", "fact-1");
  auto again = writer_->plan_remember({input("second", "fact-1")}, {{0, 1, 0, 0}}, false, "r2");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->response.remember().created());
  EXPECT_EQ(again->response.remember().item().content(), "first");
  EXPECT_TRUE(again->batch.empty()) << "an idempotent repeat writes nothing";
  auto other = make_writer("bob");
  auto clash = other->plan_remember({input("x", "fact-1")}, {{1, 0, 0, 0}}, false, "r3");
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.code(), ErrorCode::already_exists);
  EXPECT_NE(clash.error().message.find("ada"), std::string::npos);
  auto dup = writer_->plan_remember({input("a", "z"), input("b", "z")},
                                    {{1, 0, 0, 0}, {1, 0, 0, 0}}, true, "r4");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.code(), ErrorCode::invalid_argument);
}

// RememberBatchRequest.ids_only: the reply names what was stored and nothing more, while the
// records, the effects (the item actors' copy of the record included) and an idempotent repeat
// are what a full reply's batch would have.
TEST_F(PersonaWriterTest, IdsOnlyReplyCarriesIdsButStoresEverything) {
  pb::MemoryInput a = input("Ada likes tea", "event-memory-1");
  pb::MemoryInput b = input("Ada asked for a refund");
  auto plan = commit(writer_->plan_remember({&a, &b}, {{1, 0, 0, 0}, {0, 1, 0, 0}},
                                            PersonaWriter::RememberReply::batch_ids_only, ""));
  const auto& results = plan.response.remember_batch().results();
  ASSERT_EQ(results.size(), 2);
  EXPECT_EQ(results[0].item().id(), "event-memory-1");
  EXPECT_FALSE(results[1].item().id().empty());
  for (const auto& r : results) {
    EXPECT_TRUE(r.created());
    EXPECT_EQ(r.item().content(), "") << "an ids_only reply carries no content";
    EXPECT_EQ(r.item().version(), 0u);
  }
  ASSERT_EQ(plan.item_effects.size(), 2u);
  ASSERT_TRUE(plan.item_effects[1].record.has_value());
  EXPECT_EQ(plan.item_effects[1].record->content(), "Ada asked for a refund");
  EXPECT_EQ(plan.tier_effects.size(), 2u);
  auto stored = writer_->read_item(results[1].item().id());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->content(), "Ada asked for a refund");
  EXPECT_EQ(stored->version(), 1u);
  ASSERT_TRUE(writer_->history(results[0].item().id()).ok());

  auto again = writer_->plan_remember({&a}, {{1, 0, 0, 0}},
                                      PersonaWriter::RememberReply::batch_ids_only, "");
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->response.remember_batch().results_size(), 1);
  EXPECT_FALSE(again->response.remember_batch().results(0).created());
  EXPECT_EQ(again->response.remember_batch().results(0).item().id(), "event-memory-1");
  EXPECT_EQ(again->response.remember_batch().results(0).item().content(), "");
  EXPECT_TRUE(again->batch.empty()) << "an idempotent repeat writes nothing";

  // Without ids_only the same call answers with the stored items.
  pb::MemoryInput c = input("Ada prefers email");
  auto full =
      commit(writer_->plan_remember({&c}, {{0, 0, 1, 0}}, PersonaWriter::RememberReply::batch, ""));
  ASSERT_EQ(full.response.remember_batch().results_size(), 1);
  EXPECT_EQ(full.response.remember_batch().results(0).item().content(), "Ada prefers email");
}

TEST_F(PersonaWriterTest, UpdateChecksVersionAndRecordsHistory) {
  std::string id = remember("old text");
  pb::UpdateRequest up;
  up.set_id(id);
  up.set_content("new text");
  up.set_expected_version(7);
  auto stale = writer_->plan_update(up, {0, 1, 0, 0}, "u0");
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.code(), ErrorCode::conflict);
  up.set_expected_version(1);
  auto plan = commit(writer_->plan_update(up, {0, 1, 0, 0}, "u1"));
  EXPECT_EQ(plan.response.update().item().version(), 2u);
  EXPECT_EQ(plan.tier_effects[0].vec.size(), 4u);
  auto hist = writer_->history(id);
  ASSERT_EQ(hist->records_size(), 2);
  EXPECT_EQ(hist->records(1).action(), pb::UPDATE);
  EXPECT_EQ(hist->records(1).prev_content(), "old text");
  EXPECT_EQ(hist->records(1).new_content(), "new text");
  EXPECT_FLOAT_EQ((*writer_->read_vector(id))[1], 1.0f);
}

TEST_F(PersonaWriterTest, ForgetArchivesAndRestoreBringsBackTierAndVector) {
  pb::MemoryInput in = input("long term fact");
  in.set_tier(pb::LTM);
  auto p = commit(writer_->plan_remember({in}, {{0, 0, 1, 0}}, false, "r"));
  std::string id = p.response.remember().item().id();
  auto f = commit(writer_->plan_forget(id, "", "f1"));
  EXPECT_TRUE(f.tier_effects[0].remove);
  EXPECT_EQ(writer_->read_item(id).code(), ErrorCode::not_found);
  EXPECT_EQ(*writer_->archived_count(), 1u);
  pb::ListRequest lr;
  lr.set_archived(true);
  auto archived = writer_->list(lr);
  ASSERT_EQ(archived->archived_size(), 1);
  EXPECT_EQ(archived->archived(0).reason(), "forgotten by client");
  auto r = commit(writer_->plan_restore(id, "s1"));
  EXPECT_EQ(r.response.restore().item().tier(), pb::LTM);
  EXPECT_FLOAT_EQ((*writer_->read_vector(id))[2], 1.0f);
  EXPECT_EQ(*writer_->archived_count(), 0u);
  auto again = writer_->plan_restore(id, "s2");
  EXPECT_EQ(again.code(), ErrorCode::conflict);
  auto hist = writer_->history(id);
  ASSERT_EQ(hist->records_size(), 3);
  EXPECT_EQ(hist->records(1).action(), pb::FORGET);
  EXPECT_EQ(hist->records(2).action(), pb::RESTORE);
}

TEST_F(PersonaWriterTest, DeleteRemovesEverythingButHistory) {
  std::string id = remember("secret");
  commit(writer_->plan_delete(id, "d1"));
  EXPECT_EQ(writer_->read_item(id).code(), ErrorCode::not_found);
  EXPECT_EQ(writer_->plan_delete(id, "d2").code(), ErrorCode::not_found);
  auto hist = writer_->history(id);
  ASSERT_EQ(hist->records_size(), 2);
  EXPECT_EQ(hist->records(1).action(), pb::DELETE);
  // The id can be used again after a delete.
  EXPECT_EQ(remember("fresh", id), id);
}

TEST_F(PersonaWriterTest, TouchReinforcesHealth) {
  std::string id = remember("touch me");
  clock_.advance_hours(2);
  auto p = commit(writer_->plan_touch({id}, true));
  auto item = *writer_->read_item(id);
  EXPECT_EQ(item.access_count(), 1u);
  double decayed = 60 * std::exp(-0.05 * 2);
  EXPECT_NEAR(item.health(), decayed + (100 - decayed) * 0.2, 1e-9);
  EXPECT_TRUE(p.sync);
  auto background = writer_->plan_touch({id, "gone"}, false);
  ASSERT_TRUE(background.ok()) << "reinforcement skips items that went away";
  EXPECT_FALSE(background->sync);
  EXPECT_EQ(writer_->plan_touch({"gone"}, true).code(), ErrorCode::not_found);
}

TEST_F(PersonaWriterTest, ListPagesInStableOrder) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(remember("m" + std::to_string(i)));
    clock_.advance_us(1000);
  }
  pb::ListRequest lr;
  lr.set_page_size(3);
  std::vector<std::string> seen;
  for (int page = 0; page < 5; ++page) {
    auto r = writer_->list(lr);
    ASSERT_TRUE(r.ok());
    for (const auto& it : r->items()) seen.push_back(it.id());
    if (r->next_page_token().empty()) break;
    lr.set_page_token(r->next_page_token());
  }
  EXPECT_EQ(seen, ids) << "UUIDv7 ids list in creation order";
}

TEST_F(PersonaWriterTest, ReopenRestoresCountersAndTiers) {
  remember("a");
  remember("b");
  auto w2 = std::make_unique<PersonaWriter>(*db_, PersonaRef::make("default", "ada", 64), policy_,
                                            health_, clock_, ids_);
  auto tiers = w2->open();
  ASSERT_TRUE(tiers.ok());
  EXPECT_EQ((*tiers)[0].size(), 2u);
  auto p = w2->plan_remember({input("c")}, {{1, 0, 0, 0}}, false, "r");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->response.remember().item().ordinal(), 3u) << "ordinals are never reused";
}

TEST_F(PersonaWriterTest, CorruptRecordIsReportedForThatRecordOnly) {
  std::string good = remember("good");
  std::string bad = remember("bad");
  auto b = db_->batch();
  b.put(storage::Cf::items, storage::item_key(writer_->ref().prefix, bad), "\xff\xff garbage");
  ASSERT_TRUE(db_->commit(std::move(b)).ok());
  EXPECT_EQ(writer_->read_item(bad).code(), ErrorCode::data_loss);
  EXPECT_TRUE(writer_->read_item(good).ok());
  auto w2 = std::make_unique<PersonaWriter>(*db_, PersonaRef::make("default", "ada", 64), policy_,
                                            health_, clock_, ids_);
  auto tiers = w2->open();
  ASSERT_TRUE(tiers.ok());
  EXPECT_EQ((*tiers)[0].size(), 1u);
  EXPECT_EQ(w2->corrupt_items(), 1u);
  EXPECT_TRUE(commit(writer_->plan_delete(bad, "d")).response.has_delete_())
      << "a corrupt record can be deleted";
}

}  // namespace
}  // namespace nca
