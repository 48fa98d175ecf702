// A replica applies the bytes of a leader's WriteBatch with the group's applied index, and refuses
// anything a persona plan would not write, before writing anything.
#include "storage/replicated_apply.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/keys.hpp"
#include "storage/raft_log_store.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::storage {
namespace {

using testing::open_db;
using testing::TempDir;

// The value at `key` in `cf`, or "<none>" when absent; a failed read also fails the test.
std::string checked_value_of(const Db& db, Cf cf, const std::string& key) {
  auto v = db.get(cf, key);
  EXPECT_TRUE(v.ok());
  if (!v.ok() || !v->has_value()) return "<none>";
  return **v;
}

TEST(ReplicatedApplyTest, AppliesTheLeadersBatchAndRecordsTheIndex) {
  TempDir leader_dir, replica_dir;
  auto leader = open_db(leader_dir.sub("db"));
  auto replica = open_db(replica_dir.sub("db"));
  const std::string item = item_key(persona_prefix(3, "t", "p"), "m1");
  const std::string loc = locator_key("t", "m1");
  Batch b = leader->batch();
  b.put(Cf::items, item, "record");
  b.put(Cf::meta, loc, "locator");
  b.put(Cf::meta, counters_key(persona_prefix(3, "t", "p")), "counters");
  b.delete_range(Cf::history, persona_prefix(3, "t", "gone"), shard_prefix(4));
  b.del(Cf::links, item);
  std::string rep = b.rep().Data();

  EXPECT_EQ(*applied_index(*replica, 4), 0u);
  ASSERT_TRUE(apply_replicated_batch(*replica, 4, 3, 17, rep).ok());
  EXPECT_EQ(checked_value_of(*replica, Cf::items, item), "record");
  EXPECT_EQ(checked_value_of(*replica, Cf::meta, loc), "locator");
  EXPECT_EQ(*applied_index(*replica, 4), 17u);
  EXPECT_EQ(*applied_index(*replica, 5), 0u) << "each group has its own index";
  // Applied again after a crash: same state.
  ASSERT_TRUE(apply_replicated_batch(*replica, 4, 3, 17, rep).ok());
  EXPECT_EQ(checked_value_of(*replica, Cf::items, item), "record");
  // An entry without a batch (a no-op) only moves the index.
  ASSERT_TRUE(apply_replicated_batch(*replica, 4, 3, 18, "").ok());
  EXPECT_EQ(*applied_index(*replica, 4), 18u);
}

// A Raft round's entries of several groups land in one write, in log order, with each group's
// last index; nothing of them is visible before it, and a refused entry leaves the others staged.
TEST(ReplicatedApplyTest, ARoundAppliesEveryGroupsEntriesInOneWriteAtItsEnd) {
  TempDir leader_dir, replica_dir;
  auto leader = open_db(leader_dir.sub("db"));
  auto replica = open_db(replica_dir.sub("db"));
  const std::string a = item_key(persona_prefix(1, "t", "p"), "m1");
  const std::string b = item_key(persona_prefix(2, "t", "q"), "m2");
  auto put = [&](const std::string& key, const std::string& value) {
    Batch batch = leader->batch();
    batch.put(Cf::items, key, value);
    return batch.rep().Data();
  };
  ApplyRound round(*replica);
  EXPECT_TRUE(round.empty());
  ASSERT_TRUE(round.add(10, 1, 7, put(a, "first")).ok());
  ASSERT_TRUE(round.add(20, 2, 3, put(b, "only")).ok());
  ASSERT_TRUE(round.add(10, 1, 8, put(a, "second")).ok());
  // Group 10's entry 9 writes into shard 2's range: refused, the round keeps the rest.
  auto refused = round.add(10, 1, 9, put(b, "must not land"));
  EXPECT_EQ(refused.code(), ErrorCode::invalid_argument);
  EXPECT_FALSE(round.empty());
  EXPECT_EQ(checked_value_of(*replica, Cf::items, a), "<none>")
      << "visible before the round's write";
  EXPECT_EQ(*applied_index(*replica, 10), 0u);
  ASSERT_TRUE(round.write().ok());
  EXPECT_TRUE(round.empty());
  EXPECT_EQ(checked_value_of(*replica, Cf::items, a), "second") << "entries apply in log order";
  EXPECT_EQ(checked_value_of(*replica, Cf::items, b), "only");
  EXPECT_EQ(*applied_index(*replica, 10), 8u);
  EXPECT_EQ(*applied_index(*replica, 20), 3u);
  // The next round starts empty; a no-op entry only moves its group's index.
  ASSERT_TRUE(round.add(20, 2, 4, "").ok());
  ASSERT_TRUE(round.write().ok());
  EXPECT_EQ(*applied_index(*replica, 20), 4u);
  EXPECT_EQ(*applied_index(*replica, 10), 8u);
  EXPECT_EQ(checked_value_of(*replica, Cf::items, b), "only");
}

// The follower index warmer learns whose items an entry changes from the same pass that checks
// it: item puts, deletes and range deletes count; other families and refused entries do not.
TEST(ReplicatedApplyTest, ARoundNotesThePersonasWhoseItemsAnEntryChanges) {
  TempDir leader_dir, replica_dir;
  auto leader = open_db(leader_dir.sub("db"));
  auto replica = open_db(replica_dir.sub("db"));
  const std::string p = persona_prefix(1, "t", "p");
  const std::string q = persona_prefix(1, "t", "q");
  const std::string r = persona_prefix(1, "t", "r");
  const std::string s = persona_prefix(1, "t", "s");
  Batch b = leader->batch();
  b.put(Cf::items, item_key(p, "m1"), "x");
  b.put(Cf::items, item_key(p, "m2"), "x");
  b.del(Cf::items, item_key(q, "m3"));
  b.delete_range(Cf::items, item_key(r, ""), item_key(r, "\xff"));
  b.put(Cf::links, item_key(s, "m4"), "not an item");
  b.put(Cf::meta, locator_key("t", "m1"), "locator");
  ApplyRound round(*replica);
  std::vector<std::string> personas;
  ASSERT_TRUE(round.add(10, 1, 1, b.rep().Data(), &personas).ok());
  EXPECT_EQ(personas, (std::vector<std::string>{p, q, r}));

  Batch outside = leader->batch();
  outside.put(Cf::items, item_key(s, "m5"), "x");
  outside.put(Cf::items, item_key(persona_prefix(2, "t", "u"), "m6"), "another shard's");
  personas.clear();
  EXPECT_FALSE(round.add(10, 1, 2, outside.rep().Data(), &personas).ok());
  EXPECT_TRUE(personas.empty()) << "a refused entry changes nothing";
  ASSERT_TRUE(round.write().ok());
}

TEST(ReplicatedApplyTest, ARoundWritesByItselfOnceItHoldsManyBytes) {
  TempDir leader_dir, replica_dir;
  auto leader = open_db(leader_dir.sub("db"));
  auto replica = open_db(replica_dir.sub("db"));
  ApplyRound round(*replica);
  const std::string big(1 << 20, 'x');
  uint64_t index = 0;
  for (; index < 20 && checked_value_of(*replica, Cf::items,
                                        item_key(persona_prefix(1, "t", "p"), "m0")) == "<none>";
       ++index) {  // bounded: 20 MiB at most
    Batch batch = leader->batch();
    batch.put(Cf::items, item_key(persona_prefix(1, "t", "p"), "m" + std::to_string(index)), big);
    ASSERT_TRUE(round.add(10, 1, index + 1, batch.rep().Data()).ok());
  }
  EXPECT_EQ(index, ApplyRound::kFlushBytes / big.size());
  EXPECT_EQ(*applied_index(*replica, 10), index);
}

TEST(ReplicatedApplyTest, RefusesWhatAPersonaPlanNeverWritesAndWritesNothing) {
  TempDir leader_dir, replica_dir;
  auto leader = open_db(leader_dir.sub("db"));
  auto replica = open_db(replica_dir.sub("db"));
  const std::string item = item_key(persona_prefix(1, "t", "p"), "m1");
  auto refused = [&](Batch b, const std::string& why) {
    b.put(Cf::items, item, "must not land");
    auto s = apply_replicated_batch(*replica, 2, 1, 5, b.rep().Data());
    EXPECT_FALSE(s.ok()) << why;
    if (!s.ok()) {
      EXPECT_EQ(s.error().code, ErrorCode::invalid_argument) << why;
      EXPECT_NE(s.error().message.find("entry 5 of raft group 2"), std::string::npos)
          << s.error().message;
    }
    EXPECT_EQ(checked_value_of(*replica, Cf::items, item), "<none>") << why;
    EXPECT_EQ(*applied_index(*replica, 2), 0u) << why;
  };
  {
    Batch b = leader->batch();
    b.put(Cf::raft_state, raft_hard_state_key(2), "x");
    refused(std::move(b), "raft state");
  }
  {
    Batch b = leader->batch();
    b.put(Cf::raft_log, raft_log_key(2, 1), "x");
    refused(std::move(b), "raft log");
  }
  {
    Batch b = leader->batch();
    b.put(Cf::meta, node_meta_key("id"), "someone-else");
    refused(std::move(b), "the node's identity");
  }
  {
    Batch b = leader->batch();
    b.put(Cf::items, item_key(persona_prefix(2, "t", "p"), "m1"), "x");
    refused(std::move(b), "another shard's key");
  }
  {
    Batch b = leader->batch();
    b.delete_range(Cf::items, persona_prefix(1, "t", "p"), shard_prefix(3));
    refused(std::move(b), "a range beyond the shard");
  }
  // Bytes that are not a batch: too short, a wrong count, garbage records.
  for (std::string bad :
       {std::string("abc"), std::string(12, '\x01'), std::string(12, '\0') + "\x01garbage"}) {
    auto s = apply_replicated_batch(*replica, 2, 1, 5, bad);
    EXPECT_FALSE(s.ok()) << bad.size() << " bytes";
  }
  EXPECT_EQ(*applied_index(*replica, 2), 0u);
}

}  // namespace
}  // namespace nca::storage
