// A shard's snapshot carries exactly its records and its personas' locators; restoring it replaces
// the shard on another node and touches nothing else; a damaged snapshot changes nothing.
#include "storage/shard_snapshot.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "proto/neuroca.pb.h"
#include "storage/keys.hpp"
#include "storage/raft_log_store.hpp"
#include "storage/replicated_apply.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::storage {
namespace {

using testing::open_db;
using testing::TempDir;

constexpr uint32_t kShards = 8;

std::string value_of(const Db& db, Cf cf, const std::string& key) {
  auto v = db.get(cf, key);
  if (!v.ok() || !v->has_value()) return "<none>";
  return **v;
}

std::string locator_of(const std::string& persona) {
  pb::ItemLocator loc;
  loc.set_schema_version(1);
  loc.set_persona_id(persona);
  return loc.SerializeAsString();
}

// Two personas on different shards of tenant t.
struct Layout {
  std::string a = "ada", b;
  uint32_t sa = shard_of("t", "ada", kShards), sb = 0;
  Layout() {
    for (int i = 0; b.empty(); ++i) {
      std::string p = "p" + std::to_string(i);
      if (shard_of("t", p, kShards) != sa) {
        b = p;
        sb = shard_of("t", p, kShards);
      }
    }
  }
  std::string item(const std::string& persona, const std::string& id) const {
    return item_key(persona_prefix(shard_of("t", persona, kShards), "t", persona), id);
  }
};

TEST(ShardSnapshotTest, RestoreReplacesTheShardAndNothingElse) {
  Layout l;
  TempDir src_dir, dst_dir;
  auto src = open_db(src_dir.sub("db"));
  auto dst = open_db(dst_dir.sub("db"));
  {
    Batch b = src->batch();
    b.put(Cf::items, l.item(l.a, "m1"), "ada m1");
    b.put(Cf::vectors, l.item(l.a, "m1"), "ada v1");
    b.put(Cf::meta, locator_key("t", "m1"), locator_of(l.a));
    b.put(Cf::items, l.item(l.b, "m9"), "b m9 on the source");
    b.put(Cf::meta, locator_key("t", "m9"), locator_of(l.b));
    b.put(Cf::events, event_key(events_prefix(l.sa, "t"), "e2"), "the shard's event");
    ASSERT_TRUE(src->commit(std::move(b)).ok());
  }
  {
    // The destination holds a stale item and event of ada's shard, and another shard.
    Batch b = dst->batch();
    b.put(Cf::items, l.item(l.a, "stale"), "gone after the restore");
    b.put(Cf::meta, locator_key("t", "stale"), locator_of(l.a));
    b.put(Cf::events, event_key(events_prefix(l.sa, "t"), "e1"), "a stale event");
    b.put(Cf::items, l.item(l.b, "m8"), "b m8 on the destination");
    ASSERT_TRUE(dst->commit(std::move(b)).ok());
  }
  auto blob = dump_shard(*src, l.sa, kShards);
  ASSERT_TRUE(blob.ok()) << blob.error().message;
  EXPECT_EQ(blob->find("b m9"), std::string::npos) << "another shard's record in the snapshot";
  ASSERT_TRUE(restore_shard(*dst, l.sa, kShards, l.sa + 1, 42, *blob).ok());
  EXPECT_EQ(value_of(*dst, Cf::items, l.item(l.a, "m1")), "ada m1");
  EXPECT_EQ(value_of(*dst, Cf::vectors, l.item(l.a, "m1")), "ada v1");
  EXPECT_EQ(value_of(*dst, Cf::meta, locator_key("t", "m1")), locator_of(l.a));
  EXPECT_EQ(value_of(*dst, Cf::items, l.item(l.a, "stale")), "<none>");
  EXPECT_EQ(value_of(*dst, Cf::meta, locator_key("t", "stale")), "<none>");
  EXPECT_EQ(value_of(*dst, Cf::events, event_key(events_prefix(l.sa, "t"), "e1")), "<none>")
      << "the shard's events are replicated: the snapshot replaces them too";
  EXPECT_EQ(value_of(*dst, Cf::events, event_key(events_prefix(l.sa, "t"), "e2")),
            "the shard's event");
  EXPECT_EQ(value_of(*dst, Cf::items, l.item(l.b, "m8")), "b m8 on the destination");
  EXPECT_EQ(value_of(*dst, Cf::items, l.item(l.b, "m9")), "<none>");
  EXPECT_EQ(*applied_index(*dst, l.sa + 1), 42u);
}

TEST(ShardSnapshotTest, DropRemovesTheShardAndItsLocatorsOnly) {
  Layout l;
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  {
    Batch b = db->batch();
    b.put(Cf::items, l.item(l.a, "m1"), "ada m1");
    b.put(Cf::vectors, l.item(l.a, "m1"), "ada v1");
    b.put(Cf::meta, locator_key("t", "m1"), locator_of(l.a));
    b.put(Cf::events, event_key(events_prefix(l.sa, "t"), "e1"), "this node's event");
    b.put(Cf::items, l.item(l.b, "m9"), "b m9");
    b.put(Cf::meta, locator_key("t", "m9"), locator_of(l.b));
    ASSERT_TRUE(db->commit(std::move(b)).ok());
  }
  ASSERT_TRUE(drop_shard(*db, l.sa, kShards).ok());
  EXPECT_EQ(value_of(*db, Cf::items, l.item(l.a, "m1")), "<none>");
  EXPECT_EQ(value_of(*db, Cf::vectors, l.item(l.a, "m1")), "<none>");
  EXPECT_EQ(value_of(*db, Cf::meta, locator_key("t", "m1")), "<none>");
  EXPECT_EQ(value_of(*db, Cf::events, event_key(events_prefix(l.sa, "t"), "e1")), "<none>");
  EXPECT_EQ(value_of(*db, Cf::items, l.item(l.b, "m9")), "b m9");
  EXPECT_EQ(value_of(*db, Cf::meta, locator_key("t", "m9")), locator_of(l.b));
}

TEST(ShardSnapshotTest, ADamagedSnapshotChangesNothing) {
  Layout l;
  TempDir src_dir, dst_dir;
  auto src = open_db(src_dir.sub("db"));
  auto dst = open_db(dst_dir.sub("db"));
  {
    Batch b = src->batch();
    b.put(Cf::items, l.item(l.a, "m1"), "ada m1");
    ASSERT_TRUE(src->commit(std::move(b)).ok());
    Batch d = dst->batch();
    d.put(Cf::items, l.item(l.a, "old"), "kept");
    ASSERT_TRUE(dst->commit(std::move(d)).ok());
  }
  auto blob = dump_shard(*src, l.sa, kShards);
  ASSERT_TRUE(blob.ok());
  std::vector<std::string> damaged;
  for (size_t i = 0; i < blob->size(); i += 7) {
    std::string d = *blob;
    d[i] = static_cast<char>(d[i] ^ 0x20);
    damaged.push_back(d);
  }
  damaged.push_back(blob->substr(0, blob->size() / 2));
  damaged.push_back("");
  // A well-formed snapshot of another shard is not this shard's.
  auto other = dump_shard(*src, l.sb, kShards);
  ASSERT_TRUE(other.ok());
  for (const auto& d : damaged) {
    auto s = restore_shard(*dst, l.sa, kShards, l.sa + 1, 7, d);
    EXPECT_FALSE(s.ok());
    if (!s.ok()) {
      EXPECT_EQ(s.error().code, ErrorCode::invalid_argument);
    }
  }
  {
    Batch b = src->batch();
    b.put(Cf::items, l.item(l.b, "x"), "b's");
    ASSERT_TRUE(src->commit(std::move(b)).ok());
  }
  other = dump_shard(*src, l.sb, kShards);
  EXPECT_FALSE(restore_shard(*dst, l.sa, kShards, l.sa + 1, 7, *other).ok())
      << "a record of shard " << l.sb << " restored into shard " << l.sa;
  EXPECT_EQ(value_of(*dst, Cf::items, l.item(l.a, "old")), "kept");
  EXPECT_EQ(value_of(*dst, Cf::items, l.item(l.a, "m1")), "<none>");
  EXPECT_EQ(*applied_index(*dst, l.sa + 1), 0u);
}

TEST(ShardSnapshotTest, ACheckpointIsOneViewWhateverIsWrittenMeanwhile) {
  Layout l;
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  const uint64_t group = l.sa + 1;
  {
    Batch b = db->batch();
    b.put(Cf::items, l.item(l.a, "m1"), "ada m1");
    b.put(Cf::meta, locator_key("t", "m1"), locator_of(l.a));
    b.put(Cf::raft_state, raft_applied_key(group), applied_index_value(41));
    ASSERT_TRUE(db->commit(std::move(b)).ok());
  }
  ASSERT_EQ(shard_is_empty(*db, l.sa).value(), false);
  ASSERT_EQ(shard_is_empty(*db, l.sb).value(), true);
  // A shard pinned before a write does not see it, though its blob is read after the write and on
  // another thread: the blob and the index agree.
  auto pinned = pin_shard(*db, l.sa, kShards, group);
  ASSERT_TRUE(pinned.ok()) << pinned.error().message;
  EXPECT_EQ(pinned->applied_index, 41u);
  {
    Batch b = db->batch();
    b.put(Cf::items, l.item(l.a, "m2"), "ada m2");
    b.put(Cf::meta, locator_key("t", "m2"), locator_of(l.a));
    b.put(Cf::raft_state, raft_applied_key(group), applied_index_value(42));
    ASSERT_TRUE(db->commit(std::move(b)).ok());
  }
  Result<std::string> old_blob = make_error(ErrorCode::internal, "not read");
  std::thread reader([&] { old_blob = pinned->dump(); });
  reader.join();
  ASSERT_TRUE(old_blob.ok()) << old_blob.error().message;
  auto old_records = parse_shard(*old_blob, l.sa, "old");
  ASSERT_TRUE(old_records.ok()) << old_records.error().message;
  EXPECT_EQ(old_records->size(), 2u) << "m1 and its locator only";

  auto now = checkpoint_shard(*db, l.sa, kShards, group);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->applied_index, 42u);
  auto records = parse_shard(now->blob, l.sa, "now");
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->size(), 4u);
  // The blob of one shard is refused for another.
  auto wrong = parse_shard(now->blob, l.sb, "checkpoint of shard " + std::to_string(l.sa));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("a key outside the shard"), std::string::npos);
}

}  // namespace
}  // namespace nca::storage
