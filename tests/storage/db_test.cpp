#include "storage/db.hpp"

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/table_properties.h>

#include "proto/neuroca.pb.h"
#include "storage/keys.hpp"
#include "storage/records.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::storage {
namespace {

using testing::open_db;
using testing::TempDir;

std::vector<std::pair<std::string, std::string>> scan_all(const Db& db, Cf cf,
                                                          std::string_view prefix,
                                                          std::string_view start_after = {}) {
  std::vector<std::pair<std::string, std::string>> out;
  Status s = db.scan(
      cf, prefix,
      [&](std::string_view k, std::string_view v) {
        out.emplace_back(std::string(k), std::string(v));
        return true;
      },
      start_after);
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return out;
}

TEST(ColumnFamily, NamesAreDistinctAndStable) {
  std::set<std::string> names;
  for (Cf cf : kAllCfs) names.insert(cf_name(cf));
  EXPECT_EQ(names.size(), kCfCount);
  EXPECT_STREQ(cf_name(Cf::items), "items");
  EXPECT_STREQ(cf_name(Cf::raft_state), "raft_state");
  EXPECT_STREQ(cf_name(static_cast<Cf>(99)), "unknown");
}

TEST(Db, PutGetDeleteInEveryColumnFamily) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  Batch b = db->batch();
  for (Cf cf : kAllCfs) b.put(cf, "k", std::string("value of ") + cf_name(cf));
  EXPECT_EQ(b.count(), kCfCount);
  EXPECT_FALSE(b.empty());
  EXPECT_GT(b.byte_size(), 0u);
  ASSERT_TRUE(db->commit(std::move(b)).ok());
  for (Cf cf : kAllCfs) {
    auto v = db->get(cf, "k");
    ASSERT_TRUE(v.ok()) << v.error().to_string();
    ASSERT_TRUE(v->has_value()) << cf_name(cf);
    EXPECT_EQ(**v, std::string("value of ") + cf_name(cf));
  }
  // Families are separate key spaces.
  Batch del = db->batch();
  del.del(Cf::items, "k");
  ASSERT_TRUE(db->commit(std::move(del)).ok());
  auto gone = db->get(Cf::items, "k");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  auto kept = db->get(Cf::vectors, "k");
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->has_value());
  auto missing = db->get(Cf::meta, "never written");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

// Embeddings do not compress; everything else does (RocksDB's default, Snappy).
TEST(Db, TheVectorsFamilyIsStoredUncompressed) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  Batch b = db->batch();
  for (int i = 0; i < 100; ++i) {
    const std::string key = "key-" + std::to_string(i);
    b.put(Cf::vectors, key, std::string(1536, static_cast<char>('a' + i % 26)));
    b.put(Cf::items, key, std::string(1536, static_cast<char>('a' + i % 26)));
  }
  ASSERT_TRUE(db->commit(std::move(b)).ok());
  ASSERT_TRUE(db->flush().ok());
  auto compression_of = [&](Cf cf) {
    rocksdb::TablePropertiesCollection tables;
    EXPECT_TRUE(db->raw()->GetPropertiesOfAllTables(db->handle(cf), &tables).ok());
    std::set<std::string> names;
    for (const auto& [file, props] : tables) names.insert(props->compression_name);
    return names;
  };
  EXPECT_EQ(compression_of(Cf::vectors), std::set<std::string>{"NoCompression"});
  const auto items = compression_of(Cf::items);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_NE(*items.begin(), "NoCompression");
}

TEST(Db, BinaryKeysAndValuesRoundTrip) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  std::string key("\x00\x01\xff\x00k", 5);
  std::string value("\x00\xff\x00", 3);
  value += std::string(100000, 'v');
  Batch b = db->batch();
  b.put(Cf::vectors, key, value);
  ASSERT_TRUE(db->commit(std::move(b)).ok());
  auto v = db->get(Cf::vectors, key);
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(**v, value);
}

TEST(Db, PutProtoWritesTheEncodedRecord) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  pb::MemoryItem item;
  item.set_schema_version(kRecordSchemaVersion);
  item.set_id("i1");
  item.set_content("the sky is blue");
  std::string p = persona_prefix(2, "acme", "ada");
  Batch b = db->batch();
  b.put_proto(Cf::items, item_key(p, "i1"), item);
  ASSERT_TRUE(db->commit(std::move(b)).ok());
  auto raw = db->get(Cf::items, item_key(p, "i1"));
  ASSERT_TRUE(raw.ok() && raw->has_value());
  EXPECT_EQ(**raw, encode_record(item));
  auto decoded = decode_record<pb::MemoryItem>(**raw, "item 'i1'");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->content(), "the sky is blue");
}

TEST(Db, ScanVisitsExactlyThePrefixInOrderAndResumes) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  std::string ada = persona_prefix(1, "t", "ada");
  std::string ada2 = persona_prefix(1, "t", "ada2");
  std::string other_shard = persona_prefix(2, "t", "ada");
  Batch b = db->batch();
  for (std::string id : {"c", "a", "b", "d"}) b.put(Cf::items, item_key(ada, id), "v" + id);
  b.put(Cf::items, item_key(ada2, "a"), "x");
  b.put(Cf::items, item_key(other_shard, "a"), "y");
  b.put(Cf::vectors, item_key(ada, "z"), "other family");
  ASSERT_TRUE(db->commit(std::move(b)).ok());

  auto all = scan_all(*db, Cf::items, ada);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].first, item_key(ada, "a"));
  EXPECT_EQ(all[0].second, "va");
  EXPECT_EQ(all[3].first, item_key(ada, "d"));

  auto resumed = scan_all(*db, Cf::items, ada, item_key(ada, "b"));
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[0].first, item_key(ada, "c"));
  // Resuming after a key that no longer exists continues from the next one.
  auto after_missing = scan_all(*db, Cf::items, ada, item_key(ada, "bb"));
  ASSERT_EQ(after_missing.size(), 2u);
  EXPECT_EQ(after_missing[0].first, item_key(ada, "c"));
  // A start_after past the range yields nothing; before the range yields everything.
  EXPECT_TRUE(scan_all(*db, Cf::items, ada, item_key(ada, "zz")).empty());
  EXPECT_EQ(scan_all(*db, Cf::items, ada, std::string("\x00", 1)).size(), 4u);

  // Stopping early.
  int visited = 0;
  ASSERT_TRUE(db->scan(Cf::items, ada, [&](std::string_view, std::string_view) {
                  ++visited;
                  return visited < 2;
                }).ok());
  EXPECT_EQ(visited, 2);

  // A shard scan covers both personas of shard 1 and nothing of shard 2.
  EXPECT_EQ(scan_all(*db, Cf::items, shard_prefix(1)).size(), 5u);
  // The empty prefix scans the whole family.
  EXPECT_EQ(scan_all(*db, Cf::items, "").size(), 6u);
}

TEST(Db, ScanOfAnAllFfPrefixHasNoUpperBound) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  Batch b = db->batch();
  b.put(Cf::meta, locator_key("t", "i1"), "l1");
  b.put(Cf::meta, locator_key("t", "i2"), "l2");
  b.put(Cf::meta, node_meta_key("n"), "n");
  b.put(Cf::meta, counters_key(persona_prefix(0, "t", "p")), "c");
  ASSERT_TRUE(db->commit(std::move(b)).ok());
  EXPECT_EQ(scan_all(*db, Cf::meta, std::string("\xff\xff", 2)).size(), 3u);
  EXPECT_EQ(scan_all(*db, Cf::meta,
                     std::string("\xff\xff"
                                 "loc",
                                 5))
                .size(),
            2u);
}

TEST(Db, MultiGetReturnsOneResultPerKey) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  Batch b = db->batch();
  b.put(Cf::vectors, "a", "1");
  b.put(Cf::vectors, "c", "3");
  ASSERT_TRUE(db->commit(std::move(b)).ok());
  auto out = db->multi_get(Cf::vectors, {"c", "b", "a", "c"});
  ASSERT_EQ(out.size(), 4u);
  for (auto& r : out) ASSERT_TRUE(r.ok());
  EXPECT_EQ(*out[0].value(), "3");
  EXPECT_FALSE(out[1]->has_value());
  EXPECT_EQ(*out[2].value(), "1");
  EXPECT_EQ(*out[3].value(), "3");
  EXPECT_TRUE(db->multi_get(Cf::vectors, {}).empty());
}

TEST(Db, DeleteRangeRemovesExactlyTheRange) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  std::string p1 = persona_prefix(5, "t", "a");
  std::string p2 = persona_prefix(5, "t", "b");
  Batch b = db->batch();
  for (std::string id : {"1", "2", "3"}) {
    b.put(Cf::items, item_key(p1, id), id);
    b.put(Cf::items, item_key(p2, id), id);
  }
  ASSERT_TRUE(db->commit(std::move(b)).ok());
  ASSERT_TRUE(db->delete_range(Cf::items, p1, prefix_successor(p1)).ok());
  EXPECT_TRUE(scan_all(*db, Cf::items, p1).empty());
  EXPECT_EQ(scan_all(*db, Cf::items, p2).size(), 3u);
  EXPECT_TRUE(db->delete_range(Cf::items, p2, p2).ok());
  EXPECT_EQ(scan_all(*db, Cf::items, p2).size(), 3u);
  Status backwards = db->delete_range(Cf::items, prefix_successor(p2), p2);
  EXPECT_EQ(backwards.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(scan_all(*db, Cf::items, p2).size(), 3u);
}

TEST(Db, EmptyBatchCommitsWithoutAnFsync) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  uint64_t syncs = db->sync_count();
  EXPECT_TRUE(db->batch().empty());
  EXPECT_TRUE(db->commit(db->batch()).ok());
  EXPECT_EQ(db->sync_count(), syncs);
  Batch b = db->batch();
  b.put(Cf::items, "k", "v");
  ASSERT_TRUE(db->commit(std::move(b)).ok());
  EXPECT_EQ(db->sync_count(), syncs + 1);
  EXPECT_EQ(db->commit_count(), 2u);
}

TEST(Db, WriteUnsyncedIsVisibleAndDoesNotFsync) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  Batch b = db->batch();
  b.put(Cf::items, "k", "derived");
  ASSERT_TRUE(db->write_unsynced(std::move(b)).ok());
  EXPECT_EQ(db->sync_count(), 0u);
  auto v = db->get(Cf::items, "k");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(**v, "derived");
}

TEST(Db, WriteDirectIsVisibleDoesNotFsyncAndRefusesForeignBatches) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  auto other = open_db(dir.sub("other"));
  ASSERT_TRUE(db && other);
  Batch b = db->batch();
  b.put(Cf::raft_log, "k", "direct");
  ASSERT_TRUE(db->write_direct(std::move(b)).ok());
  EXPECT_EQ(db->sync_count(), 0u);
  EXPECT_EQ(db->commit_count(), 0u);  // the committer never saw it
  auto v = db->get(Cf::raft_log, "k");
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(**v, "direct");
  Batch foreign = other->batch();
  foreign.put(Cf::raft_log, "k2", "v");
  EXPECT_EQ(db->write_direct(std::move(foreign)).code(), ErrorCode::invalid_argument);
  v = db->get(Cf::raft_log, "k2");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
}

// Several Raft groups share a Db and each asks for a sync after the same round: only the first
// finds anything to sync.
TEST(Db, SyncWalSyncsOnlyWhenSomethingWasWrittenSinceTheLastSync) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  auto write = [&](const std::string& key) {
    Batch b = db->batch();
    b.put(Cf::raft_log, key, "v");
    ASSERT_TRUE(db->write_direct(std::move(b)).ok());
  };
  write("a");
  ASSERT_TRUE(db->sync_wal().ok());
  EXPECT_EQ(db->sync_count(), 1u);
  ASSERT_TRUE(db->sync_wal().ok());
  ASSERT_TRUE(db->sync_wal().ok());
  EXPECT_EQ(db->sync_count(), 1u);
  write("b");
  ASSERT_TRUE(db->sync_wal().ok());
  EXPECT_EQ(db->sync_count(), 2u);
  // An unsynced write through the committer counts as new too.
  Batch b = db->batch();
  b.put(Cf::items, "c", "v");
  ASSERT_TRUE(db->write_unsynced(std::move(b)).ok());
  ASSERT_TRUE(db->sync_wal().ok());
  EXPECT_EQ(db->sync_count(), 3u);
}

TEST(Db, SyncOffNeverFsyncs) {
  TempDir dir;
  Db::Options options;
  options.path = dir.sub("db");
  options.sync = false;
  auto db = Db::open(options);
  ASSERT_TRUE(db.ok()) << db.error().to_string();
  Batch b = (*db)->batch();
  b.put(Cf::items, "k", "v");
  ASSERT_TRUE((*db)->commit(std::move(b)).ok());
  EXPECT_EQ((*db)->sync_count(), 0u);
  EXPECT_EQ((*db)->commit_count(), 1u);
}

TEST(Db, BatchFromAnotherDbIsRefusedAndChangesNothing) {
  TempDir dir;
  auto a = open_db(dir.sub("a"));
  auto b = open_db(dir.sub("b"));
  ASSERT_TRUE(a && b);
  Batch foreign = b->batch();
  foreign.put(Cf::items, "k", "v");
  Status s = a->commit(std::move(foreign));
  EXPECT_EQ(s.code(), ErrorCode::invalid_argument);
  EXPECT_NE(s.error().message.find(dir.sub("a")), std::string::npos);
  auto v = a->get(Cf::items, "k");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());

  Batch foreign_async = b->batch();
  foreign_async.put(Cf::items, "k", "v");
  Status async_status;
  a->commit_async(std::move(foreign_async), [&](Status st) { async_status = st; });
  EXPECT_EQ(async_status.code(), ErrorCode::invalid_argument);
}

TEST(Db, BlockingCommitFromACallbackIsAnErrorNotADeadlock) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  testing::Latch done;
  Status inner;
  Batch outer = db->batch();
  outer.put(Cf::items, "outer", "1");
  db->commit_async(std::move(outer), [&](Status) {
    Batch b = db->batch();
    b.put(Cf::items, "inner", "1");
    inner = db->commit(std::move(b));
    done.open();
  });
  ASSERT_TRUE(done.wait_for(std::chrono::seconds(10)));
  EXPECT_EQ(inner.code(), ErrorCode::internal);
  EXPECT_NE(inner.error().message.find("commit_async"), std::string::npos);
}

TEST(Db, CheckpointOpensAsADbWithTheSameData) {
  TempDir dir;
  std::map<std::pair<Cf, std::string>, std::string> expected;
  {
    auto db = open_db(dir.sub("db"));
    ASSERT_TRUE(db);
    for (int round = 0; round < 3; ++round) {
      Batch b = db->batch();
      for (Cf cf : kAllCfs) {
        std::string key = "k" + std::to_string(round) + cf_name(cf);
        std::string value(round * 1000 + 10, static_cast<char>('a' + round));
        b.put(cf, key, value);
        expected[{cf, key}] = value;
      }
      ASSERT_TRUE(db->commit(std::move(b)).ok());
      if (round == 1) {
        ASSERT_TRUE(db->flush().ok());  // some data in SSTs, some only in the WAL
      }
    }
    ASSERT_TRUE(db->checkpoint(dir.sub("snap")).ok());
    // Writes after the checkpoint are not in it.
    Batch later = db->batch();
    later.put(Cf::items, "after", "x");
    ASSERT_TRUE(db->commit(std::move(later)).ok());
    // A checkpoint into an existing directory is refused with a clear error.
    Status again = db->checkpoint(dir.sub("snap"));
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().message.find(dir.sub("snap")), std::string::npos);
  }
  auto snap = open_db(dir.sub("snap"));
  ASSERT_TRUE(snap);
  for (const auto& [where, value] : expected) {
    auto v = snap->get(where.first, where.second);
    ASSERT_TRUE(v.ok() && v->has_value()) << cf_name(where.first) << " " << where.second;
    EXPECT_EQ(**v, value);
  }
  auto after = snap->get(Cf::items, "after");
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
}

TEST(Db, ReopenAfterCloseKeepsEverything) {
  TempDir dir;
  {
    auto db = open_db(dir.sub("db"));
    ASSERT_TRUE(db);
    for (int i = 0; i < 50; ++i) {
      Batch b = db->batch();
      b.put(Cf::history, "h" + std::to_string(i), std::to_string(i));
      b.put(Cf::raft_log, "r" + std::to_string(i), std::string(i * 10, 'r'));
      ASSERT_TRUE(db->commit(std::move(b)).ok());
    }
    Batch del = db->batch();
    del.del(Cf::history, "h7");
    ASSERT_TRUE(db->commit(std::move(del)).ok());
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto db = open_db(dir.sub("db"));
    ASSERT_TRUE(db);
    EXPECT_EQ(scan_all(*db, Cf::history, "h").size(), 49u);
    auto r = db->get(Cf::raft_log, "r49");
    ASSERT_TRUE(r.ok() && r->has_value());
    EXPECT_EQ(**r, std::string(490, 'r'));
    EXPECT_GT(db->approximate_size(), 0u);
    EXPECT_EQ(db->path(), dir.sub("db"));
    EXPECT_NE(db->raw(), nullptr);
  }
}

TEST(Db, DestructorDrainsPendingCommits) {
  TempDir dir;
  std::atomic<int> callbacks{0};
  std::atomic<int> failures{0};
  {
    auto db = open_db(dir.sub("db"));
    ASSERT_TRUE(db);
    for (int i = 0; i < 200; ++i) {
      Batch b = db->batch();
      b.put(Cf::events, "e" + std::to_string(i), "v");
      db->commit_async(std::move(b), [&](Status s) {
        if (!s.ok()) failures.fetch_add(1);
        callbacks.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(callbacks.load(), 200);
  EXPECT_EQ(failures.load(), 0);
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  EXPECT_EQ(scan_all(*db, Cf::events, "e").size(), 200u);
}

// Batches queued together are written as one RocksDB write: every put, delete and range delete of
// every batch lands, in queue order (a later batch's put of a key wins), in every column family,
// and survives a reopen.
TEST(Db, GroupedBatchesLandWholeAndInOrder) {
  TempDir dir;
  std::atomic<int> failures{0};
  {
    auto db = open_db(dir.sub("db"));
    ASSERT_TRUE(db);
    Batch seed = db->batch();
    for (int i = 0; i < 10; ++i) seed.put(Cf::items, "r" + std::to_string(i), "old");
    ASSERT_TRUE(db->commit(std::move(seed)).ok());
    for (int i = 0; i < 300; ++i) {
      Batch b = db->batch();
      b.put(Cf::events, "e" + std::to_string(i), "v" + std::to_string(i));
      b.put(Cf::meta, "last", std::to_string(i));  // every batch overwrites it
      if (i % 7 == 0) b.del(Cf::events, "e" + std::to_string(i));
      if (i == 150) b.delete_range(Cf::items, "r0", "r5");
      db->commit_async(std::move(b), [&](Status s) {
        if (!s.ok()) failures.fetch_add(1);
      });
    }
  }
  EXPECT_EQ(failures.load(), 0);
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  auto events = scan_all(*db, Cf::events, "e");
  EXPECT_EQ(events.size(), 300u - 43u) << "every seventh was deleted in its own batch";
  auto last = db->get(Cf::meta, "last");
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ(**last, "299");
  EXPECT_EQ(scan_all(*db, Cf::items, "r").size(), 5u);
}

TEST(Db, OpenOfALockedDbIsAClearError) {
  TempDir dir;
  auto first = open_db(dir.sub("db"));
  ASSERT_TRUE(first);
  Db::Options options;
  options.path = dir.sub("db");
  auto second = Db::open(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), ErrorCode::unavailable);
  const std::string& msg = second.error().message;
  EXPECT_NE(msg.find(dir.sub("db")), std::string::npos) << msg;
  EXPECT_NE(msg.find("lock"), std::string::npos) << msg;
  EXPECT_NE(msg.find("another process"), std::string::npos) << msg;
  // The first handle is unaffected.
  Batch b = first->batch();
  b.put(Cf::items, "k", "v");
  EXPECT_TRUE(first->commit(std::move(b)).ok());
}

TEST(Db, OpenErrorsNameThePath) {
  TempDir dir;
  Db::Options missing;
  missing.path = dir.sub("absent");
  missing.create_if_missing = false;
  auto r = Db::open(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(dir.sub("absent")), std::string::npos) << r.error().message;

  Db::Options empty;
  auto e = Db::open(empty);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.code(), ErrorCode::invalid_argument);

  // A regular file where the directory should be.
  std::string file = dir.sub("file");
  { std::ofstream(file) << "not a directory"; }
  Db::Options on_file;
  on_file.path = file;
  auto f = Db::open(on_file);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find(file), std::string::npos) << f.error().message;
}

}  // namespace
}  // namespace nca::storage
