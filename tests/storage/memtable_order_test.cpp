#include "storage/memtable_order.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "storage/db.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/support/test_seed.hpp"

namespace nca::storage {
namespace {

using testing::open_db;
using testing::TempDir;

// A batch's records, in order, as "cf:op:key[:value]".
class Lister : public rocksdb::WriteBatch::Handler {
 public:
  std::vector<std::string> out;
  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
    out.push_back(std::to_string(cf) + ":put:" + k.ToString() + ":" + v.ToString());
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& k) override {
    out.push_back(std::to_string(cf) + ":del:" + k.ToString());
    return rocksdb::Status::OK();
  }
  rocksdb::Status DeleteRangeCF(uint32_t cf, const rocksdb::Slice& b,
                                const rocksdb::Slice& e) override {
    out.push_back(std::to_string(cf) + ":range:" + b.ToString() + ":" + e.ToString());
    return rocksdb::Status::OK();
  }
};

std::vector<std::string> list(const rocksdb::WriteBatch& b) {
  Lister l;
  EXPECT_TRUE(b.Iterate(&l).ok());
  return l.out;
}

std::map<std::string, std::string> contents(Db& db, Cf cf) {
  std::map<std::string, std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db.raw()->NewIterator({}, db.handle(cf)));
  for (it->SeekToFirst(); it->Valid(); it->Next())
    out[it->key().ToString()] = it->value().ToString();
  EXPECT_TRUE(it->status().ok());
  return out;
}

TEST(MemtableOrder, PointRecordsAreSortedByFamilyThenKeyAndOneKeyKeepsItsOrder) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  auto* items = db->handle(Cf::items);
  auto* meta = db->handle(Cf::meta);
  const auto i = std::to_string(items->GetID());
  const auto m = std::to_string(meta->GetID());
  rocksdb::WriteBatch b;
  ASSERT_TRUE(b.Put(meta, "b", "1").ok());
  ASSERT_TRUE(b.Put(items, "z", "2").ok());
  ASSERT_TRUE(b.Put(items, "a", "3").ok());
  ASSERT_TRUE(b.Delete(items, "z").ok());
  ASSERT_TRUE(b.Put(meta, "a", "4").ok());
  ASSERT_TRUE(b.Put(items, "z", "5").ok());
  auto sorted = sorted_for_memtable(b, db->all_handles());
  ASSERT_TRUE(sorted.has_value());
  std::vector<std::string> want_items = {i + ":put:a:3", i + ":put:z:2", i + ":del:z",
                                         i + ":put:z:5"};
  std::vector<std::string> want_meta = {m + ":put:a:4", m + ":put:b:1"};
  std::vector<std::string> want = items->GetID() < meta->GetID() ? want_items : want_meta;
  const auto& rest = items->GetID() < meta->GetID() ? want_meta : want_items;
  want.insert(want.end(), rest.begin(), rest.end());
  EXPECT_EQ(list(*sorted), want);
  EXPECT_EQ(sorted->Count(), b.Count());
}

TEST(MemtableOrder, NoRecordCrossesARangeDeletion) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  auto* items = db->handle(Cf::items);
  const auto i = std::to_string(items->GetID());
  rocksdb::WriteBatch b;
  ASSERT_TRUE(b.Put(items, "k5", "before").ok());
  ASSERT_TRUE(b.Put(items, "k1", "before").ok());
  ASSERT_TRUE(b.DeleteRange(items, "k0", "k9").ok());
  ASSERT_TRUE(b.Put(items, "k7", "after").ok());
  ASSERT_TRUE(b.Put(items, "k2", "after").ok());
  auto sorted = sorted_for_memtable(b, db->all_handles());
  ASSERT_TRUE(sorted.has_value());
  EXPECT_EQ(list(*sorted), (std::vector<std::string>{i + ":put:k1:before", i + ":put:k5:before",
                                                     i + ":range:k0:k9", i + ":put:k2:after",
                                                     i + ":put:k7:after"}));
  ASSERT_TRUE(db->raw()->Write({}, &*sorted).ok());
  EXPECT_EQ(contents(*db, Cf::items),
            (std::map<std::string, std::string>{{"k2", "after"}, {"k7", "after"}}));
}

TEST(MemtableOrder, WhatItCannotCopyFaithfullyIsLeftAlone) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_TRUE(db);
  auto* items = db->handle(Cf::items);
  rocksdb::WriteBatch one;
  ASSERT_TRUE(one.Put(items, "a", "1").ok());
  EXPECT_FALSE(sorted_for_memtable(one, db->all_handles()).has_value()) << "nothing to sort";
  rocksdb::WriteBatch merge;
  ASSERT_TRUE(merge.Put(items, "b", "1").ok());
  ASSERT_TRUE(merge.Merge(items, "a", "1").ok());
  EXPECT_FALSE(sorted_for_memtable(merge, db->all_handles()).has_value());
  rocksdb::WriteBatch log_data;
  ASSERT_TRUE(log_data.Put(items, "b", "1").ok());
  ASSERT_TRUE(log_data.PutLogData("note").ok());
  ASSERT_TRUE(log_data.Put(items, "a", "1").ok());
  EXPECT_FALSE(sorted_for_memtable(log_data, db->all_handles()).has_value());
  rocksdb::WriteBatch unknown_family;
  ASSERT_TRUE(unknown_family.Put(items, "b", "1").ok());
  ASSERT_TRUE(unknown_family.Put(items, "a", "1").ok());
  EXPECT_FALSE(sorted_for_memtable(unknown_family, {db->handle(Cf::meta)}).has_value());
}

// Random batches of puts, deletes and range deletions over a few keys of three families, many of
// them on the same keys: written as they are into one database and sorted into another, both end
// the same.
TEST(MemtableOrder, ASortedBatchLeavesTheSameStateAsTheOriginal) {
  const uint64_t seed = nca::testing::test_seed("MemtableOrder same state");
  std::mt19937_64 rng(seed);
  TempDir dir;
  auto plain = open_db(dir.sub("plain"));
  auto sorted_db = open_db(dir.sub("sorted"));
  ASSERT_TRUE(plain && sorted_db);
  const Cf families[] = {Cf::items, Cf::meta, Cf::links};
  for (int round = 0; round < 200; ++round) {
    rocksdb::WriteBatch a;
    rocksdb::WriteBatch b;
    const int records = 2 + static_cast<int>(rng() % 30);
    for (int r = 0; r < records; ++r) {
      const Cf cf = families[rng() % 3];
      const std::string key = "k" + std::to_string(rng() % 12);
      const uint64_t what = rng() % 10;
      for (auto* pair : {&a, &b}) {
        Db& db = pair == &a ? *plain : *sorted_db;
        if (what < 6) {
          ASSERT_TRUE(pair->Put(db.handle(cf), key, std::to_string(round * 100 + r)).ok());
        } else if (what < 9) {
          ASSERT_TRUE(pair->Delete(db.handle(cf), key).ok());
        } else {
          ASSERT_TRUE(pair->DeleteRange(db.handle(cf), "k3", "k7").ok());
        }
      }
    }
    auto sorted = sorted_for_memtable(b, sorted_db->all_handles());
    ASSERT_TRUE(sorted.has_value());
    ASSERT_EQ(sorted->Count(), b.Count());
    ASSERT_TRUE(plain->raw()->Write({}, &a).ok());
    ASSERT_TRUE(sorted_db->raw()->Write({}, &*sorted).ok());
    for (Cf cf : families) {
      ASSERT_EQ(contents(*plain, cf), contents(*sorted_db, cf))
          << "round " << round << ", family " << cf_name(cf);
    }
  }
}

}  // namespace
}  // namespace nca::storage
