// RaftLogStore: the LogStorage contract on RocksDB (reads, truncation, snapshots, compaction),
// recovery after reopening, isolation of groups sharing a Db, corruption reported as data_loss,
// refused input changing nothing, and a randomized comparison against an in-memory model.
#include "storage/raft_log_store.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/db.hpp"
#include "tests/storage/storage_test_util.hpp"

namespace nca::storage {
namespace {

using raft::ConfState;
using raft::Entry;
using raft::EntryType;
using raft::HardState;
using raft::Index;
using raft::Snapshot;
using raft::Term;
using testing::open_db;
using testing::TempDir;

constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kGroup = 7;

Entry make_entry(Index index, Term term, std::string data = {},
                 EntryType type = EntryType::normal) {
  Entry e;
  e.index = index;
  e.term = term;
  e.type = type;
  e.data = data.empty() ? "e" + std::to_string(index) + "t" + std::to_string(term) : data;
  return e;
}

std::vector<Entry> run(Index lo, Index hi, Term term) {
  std::vector<Entry> out;
  for (Index i = lo; i <= hi; ++i) out.push_back(make_entry(i, term));
  return out;
}

Snapshot make_snapshot(Index index, Term term, std::string data,
                       ConfState conf = ConfState{{1, 2, 3}, {9}}) {
  Snapshot s;
  s.meta.index = index;
  s.meta.term = term;
  s.meta.conf = std::move(conf);
  s.data = std::move(data);
  return s;
}

// A Db plus one store on it, reopenable in place.
class Harness {
 public:
  explicit Harness(RaftLogStore::Options options = {}, bool sync = true)
      : options_(options), sync_(sync) {
    db_ = open_db(dir_.sub("db"), sync_);
    auto store = RaftLogStore::open(db_.get(), kGroup, options_);
    if (!store.ok()) ADD_FAILURE() << store.error().to_string();
    if (store.ok()) store_ = std::move(store).value();
  }

  RaftLogStore& store() { return *store_; }
  Db& db() { return *db_; }

  // Closes the store and the Db, then opens both again; returns the store's open status.
  Status reopen() {
    store_.reset();
    db_.reset();
    db_ = open_db(dir_.sub("db"), sync_);
    if (db_ == nullptr) return make_error(ErrorCode::internal, "db did not reopen");
    auto store = RaftLogStore::open(db_.get(), kGroup, options_);
    if (!store.ok()) return store.error();
    store_ = std::move(store).value();
    return {};
  }

  // Writes a raw value under `key` behind the store's back, as a disk fault would.
  void raw_put(Cf cf, const std::string& key, const std::string& value) {
    Batch b = db_->batch();
    b.put(cf, key, value);
    ASSERT_TRUE(db_->commit(std::move(b)).ok());
  }
  void raw_del(Cf cf, const std::string& key) {
    Batch b = db_->batch();
    b.del(cf, key);
    ASSERT_TRUE(db_->commit(std::move(b)).ok());
  }
  std::string raw_get(Cf cf, const std::string& key) {
    auto v = db_->get(cf, key);
    EXPECT_TRUE(v.ok() && v->has_value());
    return v.ok() && v->has_value() ? **v : std::string();
  }

 private:
  TempDir dir_;
  RaftLogStore::Options options_;
  bool sync_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<RaftLogStore> store_;
};

// Everything a reader can observe, for before/after comparisons.
struct Observed {
  Index first = 0;
  Index last = 0;
  HardState hard_state;
  ConfState conf;
  Snapshot snapshot;
  std::vector<Term> terms;  // [first - 1, last]
  std::vector<Entry> entries;

  bool operator==(const Observed& o) const {
    return first == o.first && last == o.last && hard_state == o.hard_state && conf == o.conf &&
           snapshot == o.snapshot && terms == o.terms && entries == o.entries;
  }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Observed observe(const RaftLogStore& store) {
  Observed out;
  out.first = store.first_index();
  out.last = store.last_index();
  auto init = store.initial_state();
  EXPECT_TRUE(init.ok());
  if (init.ok()) {
    out.hard_state = init->hard_state;
    out.conf = init->conf;
  }
  auto meta = store.snapshot_meta();
  EXPECT_TRUE(meta.ok()) << meta.error().to_string();
  if (meta.ok()) out.snapshot.meta = *meta;
  auto snap = store.snapshot();
  if (snap.ok()) {
    EXPECT_EQ(snap->meta, out.snapshot.meta);
    out.snapshot = *snap;
  } else {
    // Only a state snapshot without a source may have no data to show.
    EXPECT_TRUE(contains(snap.error().message, "application's state")) << snap.error().to_string();
  }
  for (Index i = out.first - 1; i <= out.last; ++i) {
    auto t = store.term(i);
    EXPECT_TRUE(t.ok()) << "term(" << i << "): " << t.error().to_string();
    out.terms.push_back(t.ok() ? *t : ~Term{0});
  }
  auto ents = store.entries(out.first, out.last + 1, kNoLimit);
  EXPECT_TRUE(ents.ok()) << ents.error().to_string();
  if (ents.ok()) out.entries = *ents;
  return out;
}

void expect_entries(const RaftLogStore& store, Index lo, Index hi,
                    const std::vector<Entry>& expected) {
  auto got = store.entries(lo, hi, kNoLimit);
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  EXPECT_EQ(*got, expected);
}

TEST(RaftLogStore, EmptyStore) {
  Harness h;
  RaftLogStore& s = h.store();
  EXPECT_EQ(s.group(), kGroup);
  EXPECT_EQ(s.first_index(), 1u);
  EXPECT_EQ(s.last_index(), 0u);
  auto t0 = s.term(0);
  ASSERT_TRUE(t0.ok());
  EXPECT_EQ(*t0, 0u);
  EXPECT_EQ(s.term(1).code(), ErrorCode::invalid_argument);
  auto none = s.entries(1, 1, kNoLimit);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(s.entries(1, 2, kNoLimit).code(), ErrorCode::invalid_argument);
  auto snap = s.snapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap->empty());
  auto init = s.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, HardState{});
  EXPECT_EQ(init->conf, ConfState{});
  EXPECT_EQ(RaftLogStore::open(nullptr, 1).code(), ErrorCode::invalid_argument);
}

TEST(RaftLogStore, AppendReadAndTerm) {
  Harness h;
  RaftLogStore& s = h.store();
  std::vector<Entry> log = run(1, 5, 1);
  std::vector<Entry> more = run(6, 10, 2);
  more[1].type = EntryType::conf_change;
  ASSERT_TRUE(s.save(nullptr, log, nullptr).ok());
  ASSERT_TRUE(s.save(nullptr, more, nullptr).ok());
  log.insert(log.end(), more.begin(), more.end());
  EXPECT_EQ(s.first_index(), 1u);
  EXPECT_EQ(s.last_index(), 10u);
  expect_entries(s, 1, 11, log);
  expect_entries(s, 4, 7, std::vector<Entry>(log.begin() + 3, log.begin() + 6));
  for (Index i = 1; i <= 10; ++i) {
    auto t = s.term(i);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*t, i <= 5 ? 1u : 2u) << i;
  }
  EXPECT_EQ(*s.term(0), 0u);
  EXPECT_EQ(s.term(11).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.entries(1, 12, kNoLimit).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.entries(5, 4, kNoLimit).code(), ErrorCode::invalid_argument);
}

TEST(RaftLogStore, EntriesStopAtMaxBytesButReturnAtLeastOne) {
  // Both the cached and the RocksDB path apply the same limit.
  for (size_t cache_entries : {size_t{4096}, size_t{0}}) {
    SCOPED_TRACE("cache_entries " + std::to_string(cache_entries));
    RaftLogStore::Options options;
    options.cache_entries = cache_entries;
    Harness h(options);
    RaftLogStore& s = h.store();
    std::vector<Entry> log;
    for (Index i = 1; i <= 6; ++i) log.push_back(make_entry(i, 1, std::string(10, 'a' + i)));
    ASSERT_TRUE(s.save(nullptr, log, nullptr).ok());
    auto one = s.entries(1, 7, 0);
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one->size(), 1u);
    EXPECT_EQ(one->front(), log[0]);
    auto three = s.entries(2, 7, 30);
    ASSERT_TRUE(three.ok());
    EXPECT_EQ(*three, std::vector<Entry>(log.begin() + 1, log.begin() + 4));
    auto almost = s.entries(2, 7, 29);
    ASSERT_TRUE(almost.ok());
    EXPECT_EQ(almost->size(), 2u);
  }
}

TEST(RaftLogStore, ConflictingSuffixIsTruncated) {
  Harness h;
  RaftLogStore& s = h.store();
  ASSERT_TRUE(s.save(nullptr, run(1, 10, 1), nullptr).ok());
  // A follower learns entries 6-7 conflict: the new ones replace 6..10 entirely.
  ASSERT_TRUE(s.save(nullptr, run(6, 7, 2), nullptr).ok());
  EXPECT_EQ(s.last_index(), 7u);
  std::vector<Entry> expected = run(1, 5, 1);
  for (const Entry& e : run(6, 7, 2)) expected.push_back(e);
  expect_entries(s, 1, 8, expected);
  EXPECT_EQ(s.term(8).code(), ErrorCode::invalid_argument);
  // A long suffix (range delete) and a rewrite that keeps the same last index.
  ASSERT_TRUE(s.save(nullptr, run(8, 60, 2), nullptr).ok());
  ASSERT_TRUE(s.save(nullptr, run(3, 4, 2), nullptr).ok());
  EXPECT_EQ(s.last_index(), 4u);
  ASSERT_TRUE(s.save(nullptr, run(4, 4, 3), nullptr).ok());
  expected = run(1, 2, 1);
  expected.push_back(make_entry(3, 2));
  expected.push_back(make_entry(4, 3));
  expect_entries(s, 1, 5, expected);

  ASSERT_TRUE(h.reopen().ok());
  EXPECT_EQ(h.store().last_index(), 4u);
  expect_entries(h.store(), 1, 5, expected);
  int stored_keys = 0;
  ASSERT_TRUE(h.db()
                  .scan(Cf::raft_log, raft_log_key(kGroup, 0).substr(0, 8),
                        [&](std::string_view, std::string_view) {
                          ++stored_keys;
                          return true;
                        })
                  .ok());
  EXPECT_EQ(stored_keys, 4) << "truncated entries must be deleted, not just hidden";
}

TEST(RaftLogStore, HardStateRoundTrip) {
  Harness h;
  ASSERT_TRUE(h.store().save(nullptr, run(1, 3, 4), nullptr).ok());
  HardState hs{5, 2, 3};
  ASSERT_TRUE(h.store().save(&hs, {}, nullptr).ok());
  auto init = h.store().initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, hs);
  ASSERT_TRUE(h.reopen().ok());
  init = h.store().initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, hs);
  HardState next{6, kNoLimit, 3};  // the largest vote still encodes
  ASSERT_TRUE(h.store().save(&next, {}, nullptr).ok());
  ASSERT_TRUE(h.reopen().ok());
  EXPECT_EQ(h.store().initial_state()->hard_state, next);
}

TEST(RaftLogStore, OnlyACommitIndexChangeSkipsTheFsync) {
  Harness h;
  ASSERT_TRUE(h.store().save(nullptr, run(1, 3, 4), nullptr).ok());
  HardState hs{5, 2, 1};
  ASSERT_TRUE(h.store().save(&hs, {}, nullptr).ok());  // term and vote: synced
  uint64_t syncs = h.db().sync_count();
  HardState moved = hs;
  moved.commit = 3;
  ASSERT_TRUE(h.store().save(&moved, {}, nullptr).ok());
  EXPECT_EQ(h.db().sync_count(), syncs) << "a commit-index-only save must not fsync";
  EXPECT_EQ(h.store().initial_state()->hard_state, moved);
  ASSERT_TRUE(h.reopen().ok());  // a clean close keeps it all the same
  EXPECT_EQ(h.store().initial_state()->hard_state, moved);
  syncs = h.db().sync_count();
  HardState voted{6, 3, 3};
  ASSERT_TRUE(h.store().save(&voted, {}, nullptr).ok());
  EXPECT_GT(h.db().sync_count(), syncs) << "a new term or vote must fsync";
  syncs = h.db().sync_count();
  ASSERT_TRUE(h.store().save(nullptr, run(4, 4, 6), nullptr).ok());
  EXPECT_GT(h.db().sync_count(), syncs) << "new entries must fsync";
}

TEST(RaftLogStore, SnapshotInstallReplacesTheLog) {
  Harness h;
  RaftLogStore& s = h.store();
  ASSERT_TRUE(s.save(nullptr, run(1, 10, 1), nullptr).ok());
  Snapshot snap = make_snapshot(20, 3, std::string(5000, 'S'));
  HardState hs{3, 1, 20};
  ASSERT_TRUE(s.save(&hs, {}, &snap).ok());
  EXPECT_EQ(s.first_index(), 21u);
  EXPECT_EQ(s.last_index(), 20u);
  EXPECT_EQ(*s.term(20), 3u);
  EXPECT_EQ(s.term(19).code(), ErrorCode::not_found);
  EXPECT_EQ(s.term(21).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.entries(10, 21, kNoLimit).code(), ErrorCode::not_found);
  auto got = s.snapshot();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, snap);
  EXPECT_EQ(s.initial_state()->conf, snap.meta.conf);
  ASSERT_TRUE(s.save(nullptr, run(21, 23, 3), nullptr).ok());
  Observed before = observe(s);

  ASSERT_TRUE(h.reopen().ok());
  EXPECT_EQ(observe(h.store()), before);

  // A snapshot inside the current log, with entries after it in the same save.
  Snapshot inner = make_snapshot(22, 3, "inner", ConfState{{1, 2}, {}});
  std::vector<Entry> tail = run(23, 25, 4);
  ASSERT_TRUE(h.store().save(nullptr, tail, &inner).ok());
  EXPECT_EQ(h.store().first_index(), 23u);
  EXPECT_EQ(h.store().last_index(), 25u);
  expect_entries(h.store(), 23, 26, tail);
  before = observe(h.store());
  ASSERT_TRUE(h.reopen().ok());
  EXPECT_EQ(observe(h.store()), before);
  EXPECT_EQ(h.store().snapshot()->data, "inner");
}

TEST(RaftLogStore, CompactionDropsCoveredEntries) {
  Harness h;
  RaftLogStore& s = h.store();
  ASSERT_TRUE(s.save(nullptr, run(1, 10, 1), nullptr).ok());
  ASSERT_TRUE(s.save(nullptr, run(11, 40, 2), nullptr).ok());
  ASSERT_TRUE(s.compact(make_snapshot(12, 2, "at 12")).ok());
  EXPECT_EQ(s.first_index(), 13u);
  EXPECT_EQ(s.last_index(), 40u);
  EXPECT_EQ(*s.term(12), 2u);
  auto compacted = s.term(11);
  EXPECT_EQ(compacted.code(), ErrorCode::not_found);
  EXPECT_TRUE(contains(compacted.error().message, "compacted"));
  auto old = s.entries(5, 20, kNoLimit);
  EXPECT_EQ(old.code(), ErrorCode::not_found);
  EXPECT_TRUE(contains(old.error().message, "compacted"));
  expect_entries(s, 13, 41, run(13, 40, 2));

  EXPECT_EQ(s.compact(make_snapshot(11, 2, "older")).code(), ErrorCode::conflict);
  EXPECT_EQ(s.compact(make_snapshot(41, 2, "beyond")).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.compact(make_snapshot(30, 1, "wrong term")).code(), ErrorCode::invalid_argument);
  ASSERT_TRUE(s.compact(make_snapshot(12, 2, "same index, new data")).ok());
  ASSERT_TRUE(s.compact(make_snapshot(40, 2, "everything")).ok());
  EXPECT_EQ(s.first_index(), 41u);
  EXPECT_EQ(s.last_index(), 40u);
  Observed before = observe(s);
  ASSERT_TRUE(h.reopen().ok());
  EXPECT_EQ(observe(h.store()), before);
  EXPECT_EQ(h.store().snapshot()->data, "everything");
  ASSERT_TRUE(h.store().save(nullptr, run(41, 41, 5), nullptr).ok());
  EXPECT_EQ(*h.store().term(41), 5u);
}

// A state snapshot (compact_to_state) stores its meta and no data; snapshot() asks the source,
// refuses one older than the log's start, and says so without a source. The meta survives a
// reopen, and a later data snapshot (one a follower installs) replaces it.
TEST(RaftLogStore, StateSnapshotsStoreNoDataAndAskTheirSource) {
  Harness h;
  RaftLogStore& s = h.store();
  ASSERT_TRUE(s.save(nullptr, run(1, 10, 1), nullptr).ok());
  ASSERT_TRUE(s.compact(make_snapshot(3, 1, "a copy")).ok());
  const raft::SnapshotMeta meta = make_snapshot(6, 1, "").meta;
  ASSERT_TRUE(s.compact_to_state(meta).ok());
  EXPECT_EQ(s.first_index(), 7u);
  EXPECT_EQ(*s.term(6), 1u);
  EXPECT_EQ(*s.snapshot_meta(), meta);
  auto data = h.db().get(Cf::raft_state, raft_snapshot_data_key(kGroup));
  ASSERT_TRUE(data.ok());
  EXPECT_FALSE(data->has_value()) << "the earlier snapshot's copy is still stored";

  auto none = s.snapshot();
  EXPECT_EQ(none.code(), ErrorCode::unavailable);
  EXPECT_TRUE(contains(none.error().message, "index 6")) << none.error().message;
  int calls = 0;
  Snapshot made = make_snapshot(9, 1, "the state at 9");
  s.set_snapshot_source([&]() -> Result<Snapshot> {
    ++calls;
    return made;
  });
  auto got = s.snapshot();
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  EXPECT_EQ(*got, made);
  EXPECT_EQ(calls, 1);
  made = make_snapshot(5, 1, "older than the log's start");
  EXPECT_EQ(s.snapshot().code(), ErrorCode::unavailable);
  s.set_snapshot_source(
      []() -> Result<Snapshot> { return make_error(ErrorCode::unavailable, "state behind"); });
  EXPECT_EQ(s.snapshot().code(), ErrorCode::unavailable);

  EXPECT_EQ(s.compact_to_state(make_snapshot(5, 1, "").meta).code(), ErrorCode::conflict);
  EXPECT_EQ(s.compact_to_state(make_snapshot(11, 1, "").meta).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(s.compact_to_state(make_snapshot(8, 2, "").meta).code(), ErrorCode::invalid_argument)
      << "wrong term";
  EXPECT_EQ(s.first_index(), 7u) << "a refused compaction changed the log";

  s.set_snapshot_source(nullptr);
  Observed before = observe(s);
  ASSERT_TRUE(h.reopen().ok());
  EXPECT_EQ(observe(h.store()), before);
  EXPECT_EQ(*h.store().snapshot_meta(), meta);
  EXPECT_EQ(h.store().snapshot().code(), ErrorCode::unavailable)
      << "a reopened store has no source";

  // A follower installs a leader's snapshot: a data snapshot again, read back as stored.
  const Snapshot installed = make_snapshot(20, 3, "the leader's state at 20");
  ASSERT_TRUE(h.store().save(nullptr, {}, &installed).ok());
  ASSERT_TRUE(h.reopen().ok());
  auto read = h.store().snapshot();
  ASSERT_TRUE(read.ok()) << read.error().to_string();
  EXPECT_EQ(*read, installed);
}

// A snapshot from the leader saved as the application's state (save_as_state): the application's
// records, the snapshot's meta (a state snapshot: no data stored, an earlier copy deleted), the
// hard state and the entries after it land in one write; a refused one writes none of them.
TEST(RaftLogStore, ASnapshotSavedAsTheStateIsWrittenWithTheStateInOneWrite) {
  Harness h;
  RaftLogStore& s = h.store();
  ASSERT_TRUE(s.save(nullptr, run(1, 10, 1), nullptr).ok());
  ASSERT_TRUE(s.compact(make_snapshot(3, 1, "a copy")).ok());
  auto state_of = [&](const std::string& value) {
    Batch b = h.db().batch();
    b.put(Cf::items, "state-key", value);
    return b;
  };
  const raft::SnapshotMeta older = make_snapshot(2, 1, "").meta;
  EXPECT_EQ(s.save_as_state(nullptr, {}, older, state_of("refused")).code(), ErrorCode::conflict);
  auto refused = h.db().get(Cf::items, "state-key");
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->has_value()) << "a refused save wrote the state";

  const raft::SnapshotMeta meta = make_snapshot(20, 3, "").meta;
  const HardState hs{3, 1, 21};
  ASSERT_TRUE(s.save_as_state(&hs, run(21, 22, 3), meta, state_of("at 20")).ok());
  EXPECT_EQ(s.first_index(), 21u);
  EXPECT_EQ(s.last_index(), 22u);
  EXPECT_EQ(*s.snapshot_meta(), meta);
  EXPECT_EQ(s.snapshot().code(), ErrorCode::unavailable) << "a state snapshot without a source";
  Observed before = observe(s);

  ASSERT_TRUE(h.reopen().ok());
  EXPECT_EQ(observe(h.store()), before);
  EXPECT_EQ(*h.store().snapshot_meta(), meta);
  EXPECT_EQ(h.store().initial_state()->hard_state, hs);
  auto state = h.db().get(Cf::items, "state-key");
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ(**state, "at 20");
  auto data = h.db().get(Cf::raft_state, raft_snapshot_data_key(kGroup));
  ASSERT_TRUE(data.ok());
  EXPECT_FALSE(data->has_value()) << "snapshot data is stored beside the state";
}

TEST(RaftLogStore, ReopenRecoversIdenticalState) {
  for (size_t cache_entries : {size_t{4096}, size_t{3}}) {
    SCOPED_TRACE("cache_entries " + std::to_string(cache_entries));
    RaftLogStore::Options options;
    options.cache_entries = cache_entries;
    Harness h(options);
    RaftLogStore& s = h.store();
    HardState hs{2, 3, 4};
    ASSERT_TRUE(s.save(&hs, run(1, 8, 2), nullptr).ok());
    ASSERT_TRUE(s.compact(make_snapshot(4, 2, "snap")).ok());
    ASSERT_TRUE(s.save(nullptr, run(7, 12, 3), nullptr).ok());
    Observed before = observe(s);
    ASSERT_TRUE(h.reopen().ok());
    EXPECT_EQ(observe(h.store()), before);
    EXPECT_EQ(h.store().cached_entries(), std::min<size_t>(cache_entries, 8));
  }
}

TEST(RaftLogStore, TailCacheAnswersRecentReadsWithoutRocksDb) {
  RaftLogStore::Options options;
  options.cache_entries = 16;
  Harness h(options);
  RaftLogStore& s = h.store();
  for (Index i = 1; i <= 100; i += 10) ASSERT_TRUE(s.save(nullptr, run(i, i + 9, 1), nullptr).ok());
  EXPECT_EQ(s.cached_entries(), 16u);
  uint64_t reads = s.storage_reads();
  for (Index i = 85; i <= 100; ++i) ASSERT_TRUE(s.term(i).ok());
  ASSERT_EQ(s.entries(85, 101, kNoLimit)->size(), 16u);
  EXPECT_EQ(s.storage_reads(), reads) << "recent entries must come from the cache";
  expect_entries(s, 80, 90, run(80, 89, 1));  // straddles RocksDB and the cache
  EXPECT_EQ(*s.term(3), 1u);
  EXPECT_GT(s.storage_reads(), reads);

  // The byte limit keeps the newest entry however large it is.
  RaftLogStore::Options tiny;
  tiny.cache_bytes = 1;
  Harness small(tiny);
  ASSERT_TRUE(small.store().save(nullptr, run(1, 5, 1), nullptr).ok());
  EXPECT_EQ(small.store().cached_entries(), 1u);
  reads = small.store().storage_reads();
  ASSERT_TRUE(small.store().term(5).ok());
  EXPECT_EQ(small.store().storage_reads(), reads);
}

TEST(RaftLogStore, GroupsSharingADbAreIsolated) {
  TempDir dir;
  auto db = open_db(dir.sub("db"));
  ASSERT_NE(db, nullptr);
  // Neighbouring ids and both extremes of the key space.
  const std::vector<uint64_t> groups = {0, 1, 2, 255, 256, std::numeric_limits<uint64_t>::max()};
  std::map<uint64_t, Observed> expected;
  {
    std::vector<std::unique_ptr<RaftLogStore>> stores;
    for (uint64_t g : groups) {
      auto store = RaftLogStore::open(db.get(), g);
      ASSERT_TRUE(store.ok()) << store.error().to_string();
      stores.push_back(std::move(store).value());
    }
    for (size_t i = 0; i < groups.size(); ++i) {
      HardState hs{i + 1, i, 0};
      ASSERT_TRUE(stores[i]->save(&hs, run(1, 5 + i, i + 1), nullptr).ok());
    }
    // A snapshot install, a truncation and a compaction in some groups only.
    Snapshot snap = make_snapshot(100, 9, "g1");
    ASSERT_TRUE(stores[1]->save(nullptr, {}, &snap).ok());
    ASSERT_TRUE(stores[2]->save(nullptr, run(2, 2, 9), nullptr).ok());
    ASSERT_TRUE(stores[5]->compact(make_snapshot(7, 6, "last")).ok());
    for (size_t i = 0; i < groups.size(); ++i) expected[groups[i]] = observe(*stores[i]);
    EXPECT_EQ(expected[0].last, 5u);
    EXPECT_EQ(expected[1].first, 101u);
    EXPECT_EQ(expected[2].last, 2u);
    EXPECT_EQ(expected[255].entries, run(1, 8, 4));
    EXPECT_EQ(expected[groups.back()].first, 8u);
  }
  db.reset();
  db = open_db(dir.sub("db"));
  ASSERT_NE(db, nullptr);
  for (uint64_t g : groups) {
    auto store = RaftLogStore::open(db.get(), g);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    EXPECT_EQ(observe(**store), expected[g]) << "group " << g;
  }
  ASSERT_TRUE(RaftLogStore::destroy(db.get(), 1).ok());
  ASSERT_TRUE(RaftLogStore::destroy(db.get(), groups.back()).ok());
  for (uint64_t g : groups) {
    auto store = RaftLogStore::open(db.get(), g);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    if (g == 1 || g == groups.back()) {
      EXPECT_EQ(observe(**store), observe(*RaftLogStore::open(db.get(), 12345).value()));
    } else {
      EXPECT_EQ(observe(**store), expected[g]) << "group " << g;
    }
  }
}

// Opens a store whose records were damaged by `damage`; expects data_loss naming the group and
// each of `words`.
void expect_open_fails(const std::function<void(Harness&)>& damage,
                       const std::vector<std::string>& words) {
  Harness h;
  HardState hs{3, 1, 6};
  ASSERT_TRUE(h.store().save(&hs, run(1, 8, 3), nullptr).ok());
  ASSERT_TRUE(h.store().compact(make_snapshot(3, 3, "snapshot data")).ok());
  ASSERT_TRUE(h.reopen().ok());
  damage(h);
  Status reopened = h.reopen();
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.code(), ErrorCode::data_loss) << reopened.error().to_string();
  EXPECT_TRUE(contains(reopened.error().message, "raft group 7")) << reopened.error().message;
  for (const std::string& w : words) {
    EXPECT_TRUE(contains(reopened.error().message, w)) << reopened.error().message;
  }
}

TEST(RaftLogStoreCorruption, GarbageLogRecord) {
  expect_open_fails(
      [](Harness& h) { h.raw_put(Cf::raft_log, raft_log_key(kGroup, 5), "\x01\x02garbage!"); },
      {"log entry 5", "checksum"});
}

TEST(RaftLogStoreCorruption, FlippedBitInLogRecord) {
  expect_open_fails(
      [](Harness& h) {
        std::string value = h.raw_get(Cf::raft_log, raft_log_key(kGroup, 6));
        value.back() ^= 0x10;
        h.raw_put(Cf::raft_log, raft_log_key(kGroup, 6), value);
      },
      {"log entry 6"});
}

TEST(RaftLogStoreCorruption, RecordCopiedUnderAnotherKey) {
  expect_open_fails(
      [](Harness& h) {
        h.raw_put(Cf::raft_log, raft_log_key(kGroup, 5),
                  h.raw_get(Cf::raft_log, raft_log_key(kGroup, 4)));
      },
      {"log entry 5"});
}

TEST(RaftLogStoreCorruption, TruncatedRecords) {
  expect_open_fails([](Harness& h) { h.raw_put(Cf::raft_log, raft_log_key(kGroup, 8), ""); },
                    {"log entry 8", "truncated"});
  expect_open_fails(
      [](Harness& h) { h.raw_put(Cf::raft_state, raft_hard_state_key(kGroup), "\x01"); },
      {"hard state"});
}

TEST(RaftLogStoreCorruption, GarbageHardState) {
  expect_open_fails(
      [](Harness& h) {
        h.raw_put(Cf::raft_state, raft_hard_state_key(kGroup), std::string(12, '\xff'));
      },
      {"hard state"});
}

TEST(RaftLogStoreCorruption, GarbageSnapshot) {
  expect_open_fails(
      [](Harness& h) {
        h.raw_put(Cf::raft_state, raft_snapshot_meta_key(kGroup), "not a snapshot meta");
      },
      {"snapshot meta"});
  expect_open_fails(
      [](Harness& h) {
        h.raw_put(Cf::raft_state, raft_snapshot_data_key(kGroup), "snapshot dat4");
      },
      {"snapshot at index 3"});
  expect_open_fails([](Harness& h) { h.raw_del(Cf::raft_state, raft_snapshot_data_key(kGroup)); },
                    {"snapshot at index 3", "missing"});
  expect_open_fails([](Harness& h) { h.raw_del(Cf::raft_state, raft_snapshot_meta_key(kGroup)); },
                    {"meta record is missing"});
}

TEST(RaftLogStoreCorruption, DataBesideAStateSnapshot) {
  Harness h;
  ASSERT_TRUE(h.store().save(nullptr, run(1, 8, 3), nullptr).ok());
  ASSERT_TRUE(h.store().compact_to_state(make_snapshot(4, 3, "").meta).ok());
  ASSERT_TRUE(h.reopen().ok());
  h.raw_put(Cf::raft_state, raft_snapshot_data_key(kGroup), "stray data");
  Status reopened = h.reopen();
  EXPECT_EQ(reopened.code(), ErrorCode::data_loss);
  EXPECT_TRUE(contains(reopened.error().message, "snapshot at index 4"))
      << reopened.error().message;
}

TEST(RaftLogStoreCorruption, GapInTheLog) {
  expect_open_fails([](Harness& h) { h.raw_del(Cf::raft_log, raft_log_key(kGroup, 6)); },
                    {"gap", "entry 6"});
}

TEST(RaftLogStoreCorruption, LogMustStartRightAfterTheSnapshot) {
  expect_open_fails([](Harness& h) { h.raw_del(Cf::raft_log, raft_log_key(kGroup, 4)); },
                    {"starts at index 5", "at 4"});
  // An entry the snapshot covers, left behind.
  expect_open_fails(
      [](Harness& h) {
        h.raw_put(Cf::raft_log, raft_log_key(kGroup, 2),
                  h.raw_get(Cf::raft_log, raft_log_key(kGroup, 4)));
      },
      {"log entry 2", "covered by the snapshot"});
}

TEST(RaftLogStoreCorruption, LostCommittedTail) {
  // The log stays contiguous (4..5) but ends below the stored commit index 6.
  expect_open_fails(
      [](Harness& h) {
        for (Index i = 6; i <= 8; ++i) h.raw_del(Cf::raft_log, raft_log_key(kGroup, i));
      },
      {"commit index 6", "last log index 5"});
}

TEST(RaftLogStoreCorruption, StrayKeyInTheGroupRange) {
  expect_open_fails(
      [](Harness& h) {
        h.raw_put(Cf::raft_log, raft_log_key(kGroup, 0).substr(0, 8) + "x", "stray");
      },
      {"stray key"});
}

TEST(RaftLogStoreCorruption, DamageAfterOpenIsReportedOnRead) {
  RaftLogStore::Options options;
  options.cache_entries = 2;
  Harness h(options);
  ASSERT_TRUE(h.store().save(nullptr, run(1, 10, 1), nullptr).ok());
  ASSERT_TRUE(h.store().compact(make_snapshot(2, 1, "snap")).ok());
  h.raw_put(Cf::raft_log, raft_log_key(kGroup, 4), "junk");
  h.raw_del(Cf::raft_log, raft_log_key(kGroup, 6));
  h.raw_put(Cf::raft_state, raft_snapshot_data_key(kGroup), "pans");
  auto t = h.store().term(4);
  EXPECT_EQ(t.code(), ErrorCode::data_loss);
  EXPECT_TRUE(contains(t.error().message, "log entry 4")) << t.error().message;
  EXPECT_EQ(h.store().entries(3, 6, kNoLimit).code(), ErrorCode::data_loss);
  auto gap = h.store().entries(5, 8, kNoLimit);
  EXPECT_EQ(gap.code(), ErrorCode::data_loss);
  EXPECT_TRUE(contains(gap.error().message, "log entry 6")) << gap.error().message;
  EXPECT_EQ(h.store().term(6).code(), ErrorCode::data_loss);
  EXPECT_EQ(h.store().snapshot().code(), ErrorCode::data_loss);
  // The cached tail still answers.
  expect_entries(h.store(), 9, 11, run(9, 10, 1));
}

TEST(RaftLogStore, InvalidSavesChangeNothing) {
  Harness h;
  RaftLogStore& s = h.store();
  HardState hs{4, 1, 5};
  ASSERT_TRUE(s.save(&hs, run(1, 10, 2), nullptr).ok());
  ASSERT_TRUE(s.compact(make_snapshot(3, 2, "snap")).ok());
  Observed before = observe(s);

  struct Case {
    std::string name;
    std::vector<Entry> entries;
    std::optional<HardState> hard_state;
    std::optional<Snapshot> snapshot;
    ErrorCode code;
  };
  std::vector<Entry> not_contiguous = run(11, 12, 3);
  not_contiguous.push_back(make_entry(14, 3));
  std::vector<Entry> descending = {make_entry(11, 3), make_entry(10, 3)};
  std::vector<Entry> falling_terms = {make_entry(11, 4), make_entry(12, 3)};
  std::vector<Entry> bad_type = run(11, 11, 3);
  bad_type[0].type = static_cast<EntryType>(7);
  const std::vector<Case> cases = {
      {"gap after last", run(12, 13, 3), std::nullopt, std::nullopt, ErrorCode::invalid_argument},
      {"not contiguous", not_contiguous, std::nullopt, std::nullopt, ErrorCode::invalid_argument},
      {"descending", descending, std::nullopt, std::nullopt, ErrorCode::invalid_argument},
      {"terms fall", falling_terms, std::nullopt, std::nullopt, ErrorCode::invalid_argument},
      {"below previous term", run(11, 11, 1), std::nullopt, std::nullopt,
       ErrorCode::invalid_argument},
      {"term 0", run(11, 11, 0), std::nullopt, std::nullopt, ErrorCode::invalid_argument},
      {"unknown type", bad_type, std::nullopt, std::nullopt, ErrorCode::invalid_argument},
      {"at the snapshot index", run(3, 4, 2), std::nullopt, std::nullopt,
       ErrorCode::invalid_argument},
      {"compacted index", run(2, 4, 2), std::nullopt, std::nullopt, ErrorCode::invalid_argument},
      {"truncates below commit", run(4, 4, 3), std::nullopt, std::nullopt,
       ErrorCode::invalid_argument},
      {"commit beyond last", {}, HardState{4, 1, 11}, std::nullopt, ErrorCode::invalid_argument},
      {"term goes back", {}, HardState{3, 1, 5}, std::nullopt, ErrorCode::invalid_argument},
      {"valid entries, bad hard state", run(11, 12, 3), HardState{4, 1, 13}, std::nullopt,
       ErrorCode::invalid_argument},
      {"empty snapshot", {}, std::nullopt, make_snapshot(0, 0, ""), ErrorCode::invalid_argument},
      {"snapshot term 0", {}, std::nullopt, make_snapshot(20, 0, ""), ErrorCode::invalid_argument},
      {"unsorted voters",
       {},
       std::nullopt,
       make_snapshot(20, 5, "", ConfState{{2, 1}, {}}),
       ErrorCode::invalid_argument},
      {"voter is learner",
       {},
       std::nullopt,
       make_snapshot(20, 5, "", ConfState{{1, 2}, {2}}),
       ErrorCode::invalid_argument},
      {"older snapshot", {}, std::nullopt, make_snapshot(2, 2, ""), ErrorCode::conflict},
      {"entries not after snapshot", run(22, 22, 5), std::nullopt, make_snapshot(20, 5, ""),
       ErrorCode::invalid_argument},
      {"entries below snapshot term", run(21, 21, 4), std::nullopt, make_snapshot(20, 5, ""),
       ErrorCode::invalid_argument},
      {"snapshot below commit",
       {},
       std::nullopt,
       make_snapshot(4, 2, ""),
       ErrorCode::invalid_argument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Status st = s.save(c.hard_state ? &*c.hard_state : nullptr, c.entries,
                       c.snapshot ? &*c.snapshot : nullptr);
    EXPECT_EQ(st.code(), c.code) << (st.ok() ? "ok" : st.error().to_string());
    if (!st.ok()) {
      EXPECT_TRUE(contains(st.error().message, "raft group 7"));
    }
    EXPECT_EQ(observe(s), before);
  }
  EXPECT_EQ(s.compact(make_snapshot(0, 0, "")).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(observe(s), before);
  ASSERT_TRUE(h.reopen().ok());
  EXPECT_EQ(observe(h.store()), before);
}

TEST(RaftLogStore, ConcurrentReadersSeeConsistentEntries) {
  RaftLogStore::Options options;
  options.cache_entries = 32;
  Harness h(options, /*sync=*/false);
  RaftLogStore& s = h.store();
  auto term_of = [](Index i) { return i / 50 + 1; };
  constexpr Index kLast = 2000;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> checked{0};
  std::atomic<uint64_t> wrong{0};
  // The log is never empty while the readers run, so none of their iterations is wasted.
  std::vector<Entry> head;
  for (Index j = 1; j <= 20; ++j) head.push_back(make_entry(j, term_of(j)));
  ASSERT_TRUE(s.save(nullptr, head, nullptr).ok());
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(r);
      for (int iteration = 0; iteration < 2000000 && !done.load(); ++iteration) {
        Index last = s.last_index();
        Index first = s.first_index();
        Index lo = first + rng() % (last - first + 1);
        auto got = s.entries(lo, last + 1, 4096);
        if (!got.ok()) {
          // Compaction may overtake the reader; anything else is a defect.
          if (got.code() != ErrorCode::not_found) wrong.fetch_add(1);
          continue;
        }
        for (const Entry& e : *got) {
          if (e != make_entry(e.index, term_of(e.index))) wrong.fetch_add(1);
          checked.fetch_add(1);
        }
        auto t = s.term(lo);
        if (t.ok() && *t != term_of(lo)) wrong.fetch_add(1);
      }
    });
  }
  // Every few batches the writer waits (with a deadline) until the readers have checked more
  // entries, so reads really interleave with writes and compactions.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool written = true;
  for (Index i = 21; i <= kLast && written; i += 20) {
    std::vector<Entry> batch;
    for (Index j = i; j < i + 20; ++j) batch.push_back(make_entry(j, term_of(j)));
    Status saved = s.save(nullptr, batch, nullptr);
    EXPECT_TRUE(saved.ok()) << saved.error().to_string();
    written = saved.ok();
    if (written && i % 200 == 1 && i > 100) {
      Status compacted = s.compact(make_snapshot(i - 100, term_of(i - 100), "s"));
      EXPECT_TRUE(compacted.ok()) << compacted.error().to_string();
      written = compacted.ok();
    }
    if (i % 100 == 1) {
      uint64_t seen = checked.load();
      while (checked.load() == seen && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
    }
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(checked.load(), 0u);
}

// The in-memory model the randomized test compares against: the obvious implementation of the
// LogStorage contract.
struct Model {
  HardState hard_state;
  Snapshot snapshot;
  std::vector<Entry> log;  // entries after snapshot.meta.index

  Index first() const { return snapshot.meta.index + 1; }
  Index last() const { return snapshot.meta.index + log.size(); }
  Term term(Index i) const {
    return i == snapshot.meta.index ? snapshot.meta.term : log[i - first()].term;
  }
};

TEST(RaftLogStore, RandomizedAgainstModel) {
  // NCA_TEST_SEED=<seed> replays one printed seed.
  const char* fixed = std::getenv("NCA_TEST_SEED");
  const uint64_t base_seed =
      fixed != nullptr ? std::strtoull(fixed, nullptr, 10) : std::random_device{}();
  const uint64_t rounds = fixed != nullptr ? 1 : 3;
  for (uint64_t round = 0; round < rounds; ++round) {
    const uint64_t seed = base_seed + round;
    std::cout << "RaftLogStore.RandomizedAgainstModel seed " << seed
              << " (replay with NCA_TEST_SEED=" << seed << ")" << std::endl;
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    RaftLogStore::Options options;
    options.cache_entries = rng() % 10;
    options.cache_bytes = 64 + rng() % 4000;
    Harness h(options, /*sync=*/false);
    Model m;
    for (int step = 0; step < 250; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      RaftLogStore& s = h.store();
      Term top_term =
          std::max(m.hard_state.term, m.log.empty() ? m.snapshot.meta.term : m.log.back().term);
      uint64_t op = rng() % 100;
      if (op < 45) {  // append, possibly overwriting a suffix, with a hard state sometimes
        Index lowest = std::max(m.first(), m.hard_state.commit + 1);
        Index start = lowest + rng() % (m.last() + 2 - lowest);
        Term term = (start == m.first() ? m.snapshot.meta.term : m.term(start - 1)) + rng() % 2;
        if (term == 0) term = 1;
        std::vector<Entry> batch;
        size_t count = rng() % 6;
        for (size_t j = 0; j < count; ++j) {
          term += rng() % 4 == 0 ? 1 : 0;
          std::string data(rng() % 300, static_cast<char>('a' + rng() % 26));
          batch.push_back(make_entry(start + j, term, data,
                                     rng() % 5 == 0 ? EntryType::conf_change : EntryType::normal));
        }
        Index new_last = batch.empty() ? m.last() : batch.back().index;
        std::optional<HardState> hs;
        if (rng() % 2 == 0) {
          HardState next = m.hard_state;
          next.term = std::max(next.term, batch.empty() ? next.term : batch.back().term);
          next.vote = rng() % 4;
          next.commit = next.commit + rng() % (new_last - next.commit + 1);
          hs = next;
        }
        Status st = s.save(hs ? &*hs : nullptr, batch, nullptr);
        ASSERT_TRUE(st.ok()) << st.error().to_string();
        if (!batch.empty()) {
          m.log.resize(start - m.first());
          m.log.insert(m.log.end(), batch.begin(), batch.end());
        }
        if (hs) m.hard_state = *hs;
      } else if (op < 60) {  // compact at an index within the log
        Index index = m.snapshot.meta.index + rng() % (m.last() - m.snapshot.meta.index + 1);
        if (index == 0) continue;
        Snapshot snap = make_snapshot(index, m.term(index), "compact@" + std::to_string(index),
                                      ConfState{{1, 2, 3}, {}});
        Status st = s.compact(snap);
        ASSERT_TRUE(st.ok()) << st.error().to_string();
        m.log.erase(m.log.begin(), m.log.begin() + (index - m.snapshot.meta.index));
        m.snapshot = snap;
      } else if (op < 70) {  // install a snapshot from a leader, with entries after it sometimes
        Index index = std::max<Index>(m.hard_state.commit, 1) + rng() % 30;
        Term term = top_term + rng() % 2;
        if (term == 0) term = 1;
        Snapshot snap =
            make_snapshot(index, term, std::string(rng() % 100, 'z'), ConfState{{4, 5}, {6}});
        std::vector<Entry> batch = run(index + 1, index + rng() % 3, term);
        HardState hs{std::max(m.hard_state.term, term), 4, index};
        Status st = s.save(&hs, batch, &snap);
        if (index < m.snapshot.meta.index) {
          EXPECT_EQ(st.code(), ErrorCode::conflict);
        } else {
          ASSERT_TRUE(st.ok()) << st.error().to_string();
          m.snapshot = snap;
          m.log = batch;
          m.hard_state = hs;
        }
      } else if (op < 80) {  // refused input: a gap after the last entry
        std::vector<Entry> batch = run(m.last() + 2, m.last() + 3, top_term + 1);
        EXPECT_EQ(s.save(nullptr, batch, nullptr).code(), ErrorCode::invalid_argument);
      } else if (op < 95) {  // reads with a byte limit
        if (m.last() < m.first()) continue;
        Index lo = m.first() + rng() % (m.last() - m.first() + 1);
        Index hi = lo + 1 + rng() % (m.last() + 1 - lo);
        uint64_t max_bytes = rng() % 700;
        auto got = s.entries(lo, hi, max_bytes);
        ASSERT_TRUE(got.ok()) << got.error().to_string();
        std::vector<Entry> expected;
        uint64_t bytes = 0;
        for (Index i = lo; i < hi; ++i) {
          const Entry& e = m.log[i - m.first()];
          if (!expected.empty() && bytes + e.data.size() > max_bytes) break;
          bytes += e.data.size();
          expected.push_back(e);
        }
        EXPECT_EQ(*got, expected);
      } else {
        Status st = h.reopen();
        ASSERT_TRUE(st.ok()) << st.error().to_string();
      }
      // The full observable state matches the model.
      RaftLogStore& now = h.store();
      ASSERT_EQ(now.first_index(), m.first());
      ASSERT_EQ(now.last_index(), m.last());
      Observed seen = observe(now);
      EXPECT_EQ(seen.hard_state, m.hard_state);
      EXPECT_EQ(seen.conf, m.snapshot.meta.conf);
      EXPECT_EQ(seen.snapshot, m.snapshot);
      ASSERT_EQ(seen.entries, m.log);
      for (Index i = m.first() - 1; i <= m.last(); ++i) {
        ASSERT_EQ(seen.terms[i - (m.first() - 1)], m.term(i)) << "index " << i;
      }
      if (m.first() > 1) {
        EXPECT_EQ(now.term(m.first() - 2).code(), ErrorCode::not_found);
      }
      EXPECT_EQ(now.term(m.last() + 1).code(), ErrorCode::invalid_argument);
    }
  }
}

}  // namespace
}  // namespace nca::storage
