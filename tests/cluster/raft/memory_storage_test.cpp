// tests/cluster/raft/memory_storage_test.cpp: the in-memory LogStorage: bounds, suffix
// replacement, snapshots, compaction and the errors of bad reads and writes.
#include "cluster/raft/memory_storage.hpp"
#include "tests/cluster/raft/raft_entry.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nca::raft {
namespace {

using test_support::entry;

// Entries lo..hi (inclusive) of `term`, each with data "d<index>".
std::vector<Entry> entries(Index lo, Index hi, Term term) {
  std::vector<Entry> out;
  for (Index i = lo; i <= hi; ++i) out.push_back(entry(term, i, "d" + std::to_string(i)));
  return out;
}

Snapshot snapshot_at(Index index, Term term, std::vector<NodeId> voters = {1, 2, 3}) {
  Snapshot s;
  s.meta.index = index;
  s.meta.term = term;
  s.meta.conf.voters = std::move(voters);
  s.data = "state@" + std::to_string(index);
  return s;
}

std::vector<Entry> read_all(const MemoryStorage& storage) {
  auto got = storage.entries(storage.first_index(), storage.last_index() + 1, UINT64_MAX);
  EXPECT_TRUE(got.ok()) << got.error().to_string();
  return got.ok() ? *got : std::vector<Entry>{};
}

TEST(MemoryStorageTest, FreshStorageIsEmpty) {
  MemoryStorage storage;
  EXPECT_EQ(storage.first_index(), 1u);
  EXPECT_EQ(storage.last_index(), 0u);
  auto term = storage.term(0);
  ASSERT_TRUE(term.ok());
  EXPECT_EQ(*term, 0u);
  auto none = storage.entries(1, 1, UINT64_MAX);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto snap = storage.snapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_TRUE(snap->empty());
  auto init = storage.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, HardState{});
  EXPECT_EQ(init->conf, ConfState{});
}

TEST(MemoryStorageTest, SaveThenReadEntriesTermsAndBounds) {
  MemoryStorage storage;
  std::vector<Entry> written = {entry(1, 1, "a"), entry(1, 2, "b"), entry(2, 3, "c")};
  ASSERT_TRUE(storage.save(nullptr, written, nullptr).ok());
  EXPECT_EQ(storage.first_index(), 1u);
  EXPECT_EQ(storage.last_index(), 3u);
  EXPECT_EQ(read_all(storage), written);
  auto middle = storage.entries(2, 3, UINT64_MAX);
  ASSERT_TRUE(middle.ok());
  ASSERT_EQ(middle->size(), 1u);
  EXPECT_EQ((*middle)[0], written[1]);
  for (const Entry& e : written) {
    auto t = storage.term(e.index);
    ASSERT_TRUE(t.ok()) << e.index;
    EXPECT_EQ(*t, e.term);
  }
  // Appending right after the end extends the log.
  ASSERT_TRUE(storage.save(nullptr, {entry(2, 4, "d")}, nullptr).ok());
  EXPECT_EQ(storage.last_index(), 4u);
  EXPECT_EQ(read_all(storage).back(), entry(2, 4, "d"));
}

TEST(MemoryStorageTest, SaveHardStateIsReportedByInitialState) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, entries(1, 2, 1), nullptr).ok());
  HardState hs{3, 2, 2};
  ASSERT_TRUE(storage.save(&hs, {}, nullptr).ok());
  EXPECT_EQ(storage.hard_state(), hs);
  auto init = storage.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->hard_state, hs);
  // A save without a hard state keeps the old one.
  ASSERT_TRUE(storage.save(nullptr, entries(3, 3, 3), nullptr).ok());
  EXPECT_EQ(storage.hard_state(), hs);
}

TEST(MemoryStorageTest, SavingAtOrBelowTheLastIndexReplacesTheSuffix) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, entries(1, 5, 1), nullptr).ok());
  // A longer replacement from the middle.
  ASSERT_TRUE(storage.save(nullptr, entries(3, 6, 2), nullptr).ok());
  EXPECT_EQ(storage.last_index(), 6u);
  std::vector<Entry> expected = entries(1, 2, 1);
  for (const Entry& e : entries(3, 6, 2)) expected.push_back(e);
  EXPECT_EQ(read_all(storage), expected);
  // A shorter replacement drops everything after it.
  ASSERT_TRUE(storage.save(nullptr, {entry(3, 2, "x")}, nullptr).ok());
  EXPECT_EQ(storage.last_index(), 2u);
  EXPECT_EQ(read_all(storage), (std::vector<Entry>{entry(1, 1, "d1"), entry(3, 2, "x")}));
  auto gone = storage.term(3);
  EXPECT_EQ(gone.code(), ErrorCode::invalid_argument);
  // Replacing from index 1 replaces the whole log.
  ASSERT_TRUE(storage.save(nullptr, {entry(4, 1, "y")}, nullptr).ok());
  EXPECT_EQ(storage.last_index(), 1u);
  EXPECT_EQ(read_all(storage), std::vector<Entry>{entry(4, 1, "y")});
}

TEST(MemoryStorageTest, SavingASnapshotReplacesTheWholeLog) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, entries(1, 8, 1), nullptr).ok());
  Snapshot snap = snapshot_at(5, 2, {1, 2});
  ASSERT_TRUE(storage.save(nullptr, {}, &snap).ok());
  EXPECT_EQ(storage.first_index(), 6u);
  EXPECT_EQ(storage.last_index(), 5u);  // entries 6..8 were dropped with the old log
  auto t = storage.term(5);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 2u);
  EXPECT_EQ(storage.term(4).code(), ErrorCode::not_found);
  EXPECT_EQ(storage.term(6).code(), ErrorCode::invalid_argument);
  auto got = storage.snapshot();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, snap);
  auto init = storage.initial_state();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->conf, snap.meta.conf);
}

TEST(MemoryStorageTest, SnapshotEntriesAndHardStateInOneSave) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, entries(1, 3, 1), nullptr).ok());
  Snapshot snap = snapshot_at(10, 3);
  HardState hs{4, 1, 11};
  ASSERT_TRUE(storage.save(&hs, entries(11, 12, 4), &snap).ok());
  EXPECT_EQ(storage.first_index(), 11u);
  EXPECT_EQ(storage.last_index(), 12u);
  EXPECT_EQ(read_all(storage), entries(11, 12, 4));
  EXPECT_EQ(*storage.term(10), 3u);
  EXPECT_EQ(storage.hard_state(), hs);
  // Entries that do not follow the snapshot are refused, even with it.
  MemoryStorage other;
  EXPECT_EQ(other.save(nullptr, entries(10, 11, 4), &snap).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(other.save(nullptr, entries(12, 13, 4), &snap).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(other.last_index(), 0u);
  EXPECT_TRUE(other.snapshot()->empty());
}

TEST(MemoryStorageTest, CompactDropsCoveredEntriesAndKeepsTheRest) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, entries(1, 6, 1), nullptr).ok());
  ASSERT_TRUE(storage.save(nullptr, entries(4, 6, 2), nullptr).ok());
  Snapshot snap = snapshot_at(4, 2, {1, 2});
  ASSERT_TRUE(storage.compact(snap).ok());
  EXPECT_EQ(storage.first_index(), 5u);
  EXPECT_EQ(storage.last_index(), 6u);
  EXPECT_EQ(read_all(storage), entries(5, 6, 2));
  auto dummy = storage.term(4);
  ASSERT_TRUE(dummy.ok());
  EXPECT_EQ(*dummy, 2u);
  EXPECT_EQ(*storage.snapshot(), snap);
  EXPECT_EQ(storage.initial_state()->conf, snap.meta.conf);
  // Compacting to the last index leaves an empty log after the snapshot.
  ASSERT_TRUE(storage.compact(snapshot_at(6, 2)).ok());
  EXPECT_EQ(storage.first_index(), 7u);
  EXPECT_EQ(storage.last_index(), 6u);
  EXPECT_EQ(*storage.term(6), 2u);
}

TEST(MemoryStorageTest, CompactRefusesOldAndFutureSnapshotsAndChangesNothing) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, entries(1, 6, 1), nullptr).ok());
  Snapshot snap = snapshot_at(3, 1);
  ASSERT_TRUE(storage.compact(snap).ok());
  std::vector<Entry> before = read_all(storage);

  Status older = storage.compact(snapshot_at(2, 1));
  EXPECT_EQ(older.code(), ErrorCode::conflict);
  Status same = storage.compact(snapshot_at(3, 1));
  EXPECT_EQ(same.code(), ErrorCode::conflict);
  Status future = storage.compact(snapshot_at(7, 1));
  EXPECT_EQ(future.code(), ErrorCode::invalid_argument);
  EXPECT_NE(future.error().message.find("past the last index"), std::string::npos)
      << future.error().message;

  EXPECT_EQ(storage.first_index(), 4u);
  EXPECT_EQ(storage.last_index(), 6u);
  EXPECT_EQ(read_all(storage), before);
  EXPECT_EQ(*storage.snapshot(), snap);
}

TEST(MemoryStorageTest, ReadsOutsideTheLogAreErrors) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, entries(1, 6, 1), nullptr).ok());
  ASSERT_TRUE(storage.compact(snapshot_at(3, 1)).ok());
  // Compacted: not_found.
  EXPECT_EQ(storage.entries(3, 5, UINT64_MAX).code(), ErrorCode::not_found);
  EXPECT_EQ(storage.entries(1, 2, UINT64_MAX).code(), ErrorCode::not_found);
  EXPECT_EQ(storage.term(2).code(), ErrorCode::not_found);
  EXPECT_NE(storage.term(2).error().message.find("compacted"), std::string::npos);
  // Beyond the end, or an inverted range: invalid_argument.
  EXPECT_EQ(storage.entries(4, 8, UINT64_MAX).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(storage.entries(6, 5, UINT64_MAX).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(storage.term(7).code(), ErrorCode::invalid_argument);
  // The edges themselves are fine.
  auto edge = storage.entries(4, 7, UINT64_MAX);
  ASSERT_TRUE(edge.ok());
  EXPECT_EQ(edge->size(), 3u);
  auto empty = storage.entries(7, 7, UINT64_MAX);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(MemoryStorageTest, MaxBytesLimitsEntriesButReturnsAtLeastOne) {
  MemoryStorage storage;
  std::vector<Entry> written;
  for (Index i = 1; i <= 5; ++i) written.push_back(entry(1, i, std::string(10, 'x')));
  ASSERT_TRUE(storage.save(nullptr, written, nullptr).ok());
  struct Case {
    uint64_t max_bytes;
    size_t expected;
  };
  for (Case c : {Case{0, 1}, Case{9, 1}, Case{10, 1}, Case{19, 1}, Case{20, 2}, Case{35, 3},
                 Case{50, 5}, Case{UINT64_MAX, 5}}) {
    auto got = storage.entries(1, 6, c.max_bytes);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->size(), c.expected) << "max_bytes " << c.max_bytes;
    for (size_t i = 0; i < got->size(); ++i) EXPECT_EQ((*got)[i], written[i]);
  }
  // An entry bigger than the limit still comes back alone.
  MemoryStorage big;
  ASSERT_TRUE(
      big.save(nullptr, {entry(1, 1, std::string(100, 'y')), entry(1, 2, "z")}, nullptr).ok());
  auto one = big.entries(1, 3, 10);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].data.size(), 100u);
}

TEST(MemoryStorageTest, InvalidSavesChangeNothing) {
  MemoryStorage storage;
  HardState hs{2, 1, 3};
  ASSERT_TRUE(storage.save(&hs, entries(1, 4, 2), nullptr).ok());
  ASSERT_TRUE(storage.compact(snapshot_at(2, 2)).ok());
  const std::vector<Entry> before = read_all(storage);
  const Snapshot snap_before = *storage.snapshot();
  HardState other{9, 3, 4};

  // Not contiguous.
  std::vector<Entry> gap = {entry(3, 4), entry(3, 6)};
  EXPECT_EQ(storage.save(&other, gap, nullptr).code(), ErrorCode::invalid_argument);
  // Not ascending.
  std::vector<Entry> backwards = {entry(3, 4), entry(3, 3)};
  EXPECT_EQ(storage.save(&other, backwards, nullptr).code(), ErrorCode::invalid_argument);
  // Leaves a hole after the last index.
  EXPECT_EQ(storage.save(&other, entries(6, 7, 3), nullptr).code(), ErrorCode::invalid_argument);
  // Starts at or below the snapshot.
  EXPECT_EQ(storage.save(&other, entries(2, 5, 3), nullptr).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(storage.save(&other, entries(1, 5, 3), nullptr).code(), ErrorCode::invalid_argument);
  // A snapshot with entries that do not follow it: the snapshot is not installed either.
  Snapshot snap = snapshot_at(8, 3);
  EXPECT_EQ(storage.save(&other, entries(3, 4, 3), &snap).code(), ErrorCode::invalid_argument);

  EXPECT_EQ(storage.hard_state(), hs);
  EXPECT_EQ(storage.first_index(), 3u);
  EXPECT_EQ(storage.last_index(), 4u);
  EXPECT_EQ(read_all(storage), before);
  EXPECT_EQ(*storage.snapshot(), snap_before);
}

TEST(MemoryStorageTest, CopiesAreIndependent) {
  MemoryStorage original;
  HardState hs{1, 1, 2};
  ASSERT_TRUE(original.save(&hs, entries(1, 3, 1), nullptr).ok());
  MemoryStorage copy = original;
  HardState later{5, 2, 4};
  ASSERT_TRUE(copy.save(&later, entries(2, 4, 5), nullptr).ok());
  ASSERT_TRUE(copy.compact(snapshot_at(2, 5)).ok());

  EXPECT_EQ(original.hard_state(), hs);
  EXPECT_EQ(original.first_index(), 1u);
  EXPECT_EQ(original.last_index(), 3u);
  EXPECT_EQ(read_all(original), entries(1, 3, 1));
  EXPECT_TRUE(original.snapshot()->empty());

  EXPECT_EQ(copy.hard_state(), later);
  EXPECT_EQ(copy.first_index(), 3u);
  EXPECT_EQ(copy.last_index(), 4u);
  EXPECT_EQ(read_all(copy), entries(3, 4, 5));

  // And the other way round.
  ASSERT_TRUE(original.save(nullptr, entries(4, 4, 1), nullptr).ok());
  EXPECT_EQ(copy.last_index(), 4u);
  EXPECT_EQ(*copy.term(4), 5u);
}

}  // namespace
}  // namespace nca::raft
