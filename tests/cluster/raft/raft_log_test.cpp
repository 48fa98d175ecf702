// tests/cluster/raft/raft_log_test.cpp: RaftLog over a MemoryStorage: bounds, the unstable tail,
// a follower's append with conflicts, terms across the storage/unstable/snapshot seams, slices,
// commit rules and snapshot restore.
#include "cluster/raft/raft_log.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/raft/memory_storage.hpp"
#include "tests/cluster/raft/raft_entry.hpp"

namespace nca::raft {
namespace {

using test_support::entry;

// One entry per term in `terms`, at indices first, first+1, ...; data "d<index>".
std::vector<Entry> with_terms(Index first, const std::vector<Term>& terms) {
  std::vector<Entry> out;
  for (size_t i = 0; i < terms.size(); ++i) {
    Index index = first + i;
    out.push_back(entry(terms[i], index, "d" + std::to_string(index)));
  }
  return out;
}

Snapshot one_voter_snapshot_at(Index index, Term term) {
  Snapshot s;
  s.meta.index = index;
  s.meta.term = term;
  s.meta.conf.voters = {1};
  s.data = "snap";
  return s;
}

std::vector<Entry> all(const RaftLog& log) {
  auto got = log.slice(log.first_index(), log.last_index() + 1, UINT64_MAX);
  EXPECT_TRUE(got.ok()) << got.error().to_string();
  return got.ok() ? *got : std::vector<Entry>{};
}

// A RaftLog whose storage holds `stored` (from index 1) and whose hard state commits `commit`.
struct Fixture {
  MemoryStorage storage;
  RaftLog log{&storage};

  Fixture(const std::vector<Term>& stored, Index commit) {
    HardState hs{stored.empty() ? 0 : stored.back(), kNoNode, commit};
    Status saved = storage.save(&hs, with_terms(1, stored), nullptr);
    EXPECT_TRUE(saved.ok()) << saved.error().to_string();
    Status s = log.init(commit);
    EXPECT_TRUE(s.ok()) << s.error().to_string();
  }

  // What the application does with a Ready's entries: save them, then report them stable.
  void persist() {
    std::vector<Entry> unstable = log.unstable_entries();
    if (unstable.empty()) return;
    ASSERT_TRUE(storage.save(nullptr, unstable, nullptr).ok());
    log.stable_to(unstable.back().index, unstable.back().term);
  }
};

TEST(RaftLogTest, InitOnAnEmptyStorage) {
  MemoryStorage storage;
  RaftLog log(&storage);
  ASSERT_TRUE(log.init(0).ok());
  EXPECT_EQ(log.first_index(), 1u);
  EXPECT_EQ(log.last_index(), 0u);
  EXPECT_EQ(log.last_term(), 0u);
  EXPECT_EQ(log.committed(), 0u);
  EXPECT_EQ(log.applied(), 0u);
  EXPECT_TRUE(log.unstable_entries().empty());
  EXPECT_FALSE(log.unstable_snapshot().has_value());
}

TEST(RaftLogTest, InitReadsTheStorageBounds) {
  Fixture f({1, 1, 2, 2, 3}, 3);
  EXPECT_EQ(f.log.first_index(), 1u);
  EXPECT_EQ(f.log.last_index(), 5u);
  EXPECT_EQ(f.log.last_term(), 3u);
  EXPECT_EQ(f.log.committed(), 3u);
  EXPECT_EQ(f.log.applied(), 0u);
  EXPECT_TRUE(f.log.unstable_entries().empty());
  EXPECT_EQ(f.log.stable_last_index(), 5u);
}

TEST(RaftLogTest, InitAfterCompactionStartsCommittedAndAppliedAtTheSnapshot) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, with_terms(1, {1, 1, 2, 2, 2}), nullptr).ok());
  ASSERT_TRUE(storage.compact(one_voter_snapshot_at(3, 2)).ok());
  RaftLog log(&storage);
  ASSERT_TRUE(log.init(0).ok());  // an older hard state commit never goes below the snapshot
  EXPECT_EQ(log.first_index(), 4u);
  EXPECT_EQ(log.last_index(), 5u);
  EXPECT_EQ(log.committed(), 3u);
  EXPECT_EQ(log.applied(), 3u);
}

TEST(RaftLogTest, InitRefusesACommitBeyondTheLog) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, with_terms(1, {1, 1, 1}), nullptr).ok());
  RaftLog log(&storage);
  Status s = log.init(4);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::data_loss);
  EXPECT_NE(s.error().message.find("beyond the last log index"), std::string::npos)
      << s.error().message;
  // The edge is fine.
  RaftLog edge(&storage);
  ASSERT_TRUE(edge.init(3).ok());
  EXPECT_EQ(edge.committed(), 3u);
}

TEST(RaftLogTest, AppendGoesToTheUnstableTail) {
  Fixture f({1, 1}, 1);
  f.log.append(with_terms(3, {2, 2}));
  EXPECT_EQ(f.log.last_index(), 4u);
  EXPECT_EQ(f.log.last_term(), 2u);
  EXPECT_EQ(f.log.unstable_entries(), with_terms(3, {2, 2}));
  EXPECT_EQ(f.log.stable_last_index(), 2u);
  EXPECT_EQ(f.storage.last_index(), 2u);  // the log never writes to storage itself
  f.log.append(with_terms(5, {3}));
  EXPECT_EQ(f.log.unstable_entries(), with_terms(3, {2, 2, 3}));
  f.log.append({});  // nothing to do
  EXPECT_EQ(f.log.last_index(), 5u);
  EXPECT_EQ(all(f.log), with_terms(1, {1, 1, 2, 2, 3}));

  f.persist();
  EXPECT_TRUE(f.log.unstable_entries().empty());
  EXPECT_EQ(f.log.stable_last_index(), 5u);
  EXPECT_EQ(all(f.log), with_terms(1, {1, 1, 2, 2, 3}));
}

TEST(RaftLogTest, AppendBelowTheUnstableTailReplacesIt) {
  Fixture f({1, 1, 1}, 1);
  f.log.append(with_terms(4, {2, 2, 2}));
  // Into the middle of the unstable tail.
  f.log.append(with_terms(5, {3}));
  EXPECT_EQ(f.log.unstable_entries(), (std::vector<Entry>{entry(2, 4, "d4"), entry(3, 5, "d5")}));
  EXPECT_EQ(f.log.last_index(), 5u);
  // Below the stored end: everything unstable goes, and the stored suffix is shadowed.
  f.log.append(with_terms(3, {4}));
  EXPECT_EQ(f.log.unstable_entries(), with_terms(3, {4}));
  EXPECT_EQ(f.log.last_index(), 3u);
  EXPECT_EQ(*f.log.term(3), 4u);
  EXPECT_EQ(*f.log.term(2), 1u);
  EXPECT_EQ(f.log.stable_last_index(), 2u);
  f.persist();
  EXPECT_EQ(f.storage.last_index(), 3u);
  EXPECT_EQ(all(f.log), with_terms(1, {1, 1, 4}));
}

TEST(RaftLogTest, MaybeAppendMatchesOnIndexAndTerm) {
  Fixture f({1, 1, 2}, 0);
  auto ok = f.log.maybe_append(3, 2, 0, with_terms(4, {2, 3}));
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  ASSERT_TRUE(ok->has_value());
  EXPECT_EQ(**ok, 5u);
  EXPECT_EQ(f.log.last_index(), 5u);
  EXPECT_EQ(all(f.log), with_terms(1, {1, 1, 2, 2, 3}));

  // Mismatch: wrong term at the index, or an index past our end. Nothing changes.
  for (auto [index, term] : {std::pair<Index, Term>{3, 1}, {5, 2}, {6, 3}, {9, 3}}) {
    auto miss = f.log.maybe_append(index, term, 5, with_terms(index + 1, {4}));
    ASSERT_TRUE(miss.ok()) << miss.error().to_string();
    EXPECT_FALSE(miss->has_value()) << "index " << index << " term " << term;
  }
  EXPECT_EQ(all(f.log), with_terms(1, {1, 1, 2, 2, 3}));
  EXPECT_EQ(f.log.committed(), 0u);

  // Matching at 0 (the start of the log) always works.
  auto heartbeat = f.log.maybe_append(0, 0, 2, {});
  ASSERT_TRUE(heartbeat.ok());
  ASSERT_TRUE(heartbeat->has_value());
  EXPECT_EQ(**heartbeat, 0u);
  EXPECT_EQ(f.log.committed(), 0u);  // capped by the last new index, 0
}

TEST(RaftLogTest, MaybeAppendTruncatesAConflictingSuffix) {
  Fixture f({1, 1, 2, 2, 2}, 2);
  auto got = f.log.maybe_append(2, 1, 2, with_terms(3, {3, 3}));
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, 4u);
  EXPECT_EQ(f.log.last_index(), 4u);  // the stored entry 5 is gone from the log's view
  EXPECT_EQ(f.log.unstable_entries(), with_terms(3, {3, 3}));
  EXPECT_EQ(*f.log.term(3), 3u);
  EXPECT_EQ(f.log.term(5).code(), ErrorCode::invalid_argument);
  f.persist();
  EXPECT_EQ(f.storage.last_index(), 4u);
  EXPECT_EQ(all(f.log), with_terms(1, {1, 1, 3, 3}));
}

TEST(RaftLogTest, MaybeAppendKeepsALongerLogWhenAllEntriesMatch) {
  Fixture f({1, 1, 2, 2, 2}, 0);
  // A delayed, shorter append whose entries we already have must not truncate.
  auto got = f.log.maybe_append(1, 1, 0, with_terms(2, {1, 2}));
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, 3u);
  EXPECT_EQ(f.log.last_index(), 5u);
  EXPECT_TRUE(f.log.unstable_entries().empty());
  // Partly new: only the new part is appended.
  auto more = f.log.maybe_append(4, 2, 0, with_terms(5, {2, 2, 2}));
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(**more, 7u);
  EXPECT_EQ(f.log.unstable_entries(), with_terms(6, {2, 2}));
}

TEST(RaftLogTest, MaybeAppendRefusesToOverwriteCommittedEntries) {
  Fixture f({1, 1, 2, 2, 2}, 3);
  f.log.append(with_terms(6, {2}));
  const std::vector<Entry> before = all(f.log);
  const std::vector<Entry> unstable_before = f.log.unstable_entries();
  auto got = f.log.maybe_append(2, 1, 5, with_terms(3, {9, 9}));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), ErrorCode::internal);
  EXPECT_NE(got.error().message.find("committed"), std::string::npos) << got.error().message;
  EXPECT_EQ(all(f.log), before);
  EXPECT_EQ(f.log.unstable_entries(), unstable_before);
  EXPECT_EQ(f.log.committed(), 3u);
  // Conflicting just after the commit index is allowed.
  auto after = f.log.maybe_append(3, 2, 0, with_terms(4, {9}));
  ASSERT_TRUE(after.ok()) << after.error().to_string();
  EXPECT_EQ(**after, 4u);
  EXPECT_EQ(f.log.last_index(), 4u);
}

TEST(RaftLogTest, MaybeAppendCommitIsCappedByTheLastNewIndex) {
  Fixture f({1, 1, 1, 1, 1}, 1);
  // The leader has committed 5, but this append only vouches for entries up to 3: our entries 4
  // and 5 may still differ from the leader's.
  auto got = f.log.maybe_append(2, 1, 5, with_terms(3, {1}));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(**got, 3u);
  EXPECT_EQ(f.log.committed(), 3u);
  EXPECT_EQ(f.log.last_index(), 5u);
  // The leader's commit caps it too; commits never go backwards.
  auto next = f.log.maybe_append(4, 1, 4, with_terms(5, {1}));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(f.log.committed(), 4u);
  auto stale = f.log.maybe_append(5, 1, 2, {});
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(f.log.committed(), 4u);
}

TEST(RaftLogTest, TermAcrossSnapshotStorageAndUnstable) {
  MemoryStorage storage;
  ASSERT_TRUE(storage.save(nullptr, with_terms(1, {1, 1, 2, 2, 3}), nullptr).ok());
  ASSERT_TRUE(storage.compact(one_voter_snapshot_at(3, 2)).ok());
  RaftLog log(&storage);
  ASSERT_TRUE(log.init(3).ok());
  log.append(with_terms(6, {4, 5}));
  struct Case {
    Index index;
    Term term;
  };
  // 3: the snapshot's dummy; 4-5: storage; 6-7: unstable.
  for (Case c : {Case{3, 2}, Case{4, 2}, Case{5, 3}, Case{6, 4}, Case{7, 5}}) {
    auto t = log.term(c.index);
    ASSERT_TRUE(t.ok()) << c.index << ": " << t.error().to_string();
    EXPECT_EQ(*t, c.term) << "index " << c.index;
    EXPECT_TRUE(log.match_term(c.index, c.term));
    EXPECT_FALSE(log.match_term(c.index, c.term + 1));
  }
  EXPECT_EQ(log.term(2).code(), ErrorCode::not_found);
  EXPECT_EQ(log.term(0).code(), ErrorCode::not_found);
  EXPECT_EQ(log.term(8).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(log.term_or_zero(2), 0u);
  EXPECT_EQ(log.term_or_zero(8), 0u);
  EXPECT_FALSE(log.match_term(2, 0));
  EXPECT_EQ(log.last_term(), 5u);
}

TEST(RaftLogTest, SliceSpansStorageAndUnstable) {
  Fixture f({1, 1, 2}, 0);
  f.log.append(with_terms(4, {3, 3}));
  auto got = f.log.slice(2, 6, UINT64_MAX);
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  EXPECT_EQ(*got, with_terms(2, {1, 2, 3, 3}));
  auto only_unstable = f.log.slice(5, 6, UINT64_MAX);
  ASSERT_TRUE(only_unstable.ok());
  EXPECT_EQ(*only_unstable, with_terms(5, {3}));
  auto only_stored = f.log.slice(1, 3, UINT64_MAX);
  ASSERT_TRUE(only_stored.ok());
  EXPECT_EQ(*only_stored, with_terms(1, {1, 1}));
  auto empty = f.log.slice(3, 3, UINT64_MAX);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(f.log.slice(2, 7, UINT64_MAX).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(f.log.slice(4, 3, UINT64_MAX).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(f.log.slice(0, 2, UINT64_MAX).code(), ErrorCode::not_found);
}

TEST(RaftLogTest, SliceHonoursMaxBytesAcrossTheSeam) {
  MemoryStorage storage;
  std::vector<Entry> stored;
  for (Index i = 1; i <= 3; ++i) stored.push_back(entry(1, i, std::string(10, 's')));
  ASSERT_TRUE(storage.save(nullptr, stored, nullptr).ok());
  RaftLog log(&storage);
  ASSERT_TRUE(log.init(0).ok());
  std::vector<Entry> fresh;
  for (Index i = 4; i <= 6; ++i) fresh.push_back(entry(2, i, std::string(10, 'u')));
  log.append(fresh);
  struct Case {
    Index lo;
    uint64_t max_bytes;
    size_t expected;
  };
  for (Case c : {Case{1, 0, 1}, Case{1, 25, 2}, Case{1, 30, 3}, Case{1, 35, 3}, Case{1, 40, 4},
                 Case{1, 60, 6}, Case{3, 15, 1}, Case{3, 20, 2}, Case{4, 0, 1}, Case{4, 25, 2},
                 Case{2, UINT64_MAX, 5}}) {
    auto got = log.slice(c.lo, 7, c.max_bytes);
    ASSERT_TRUE(got.ok()) << got.error().to_string();
    EXPECT_EQ(got->size(), c.expected) << "lo " << c.lo << " max_bytes " << c.max_bytes;
    for (size_t k = 0; k < got->size(); ++k) EXPECT_EQ((*got)[k].index, c.lo + k);
  }
}

TEST(RaftLogTest, SliceStaysContiguousWhenABigStoredEntryStopsIt) {
  // Storage stops before the big entry 2; the small unstable entry 4 would still fit the budget,
  // but handing it out would skip 2 and 3.
  MemoryStorage storage;
  std::vector<Entry> stored = {entry(1, 1, std::string(10, 'a')),
                               entry(1, 2, std::string(100, 'b')), entry(1, 3, "c")};
  ASSERT_TRUE(storage.save(nullptr, stored, nullptr).ok());
  RaftLog log(&storage);
  ASSERT_TRUE(log.init(0).ok());
  log.append({entry(2, 4, "")});
  auto got = log.slice(1, 5, 50);
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].index, 1u);
}

TEST(RaftLogTest, IsUpToDateFollowsSection541) {
  Fixture f({1, 1, 2, 2, 2}, 0);  // last entry: index 5, term 2
  // A later last term wins regardless of length.
  EXPECT_TRUE(f.log.is_up_to_date(1, 3));
  EXPECT_TRUE(f.log.is_up_to_date(9, 3));
  // Same last term: the longer (or equal) log wins.
  EXPECT_TRUE(f.log.is_up_to_date(5, 2));
  EXPECT_TRUE(f.log.is_up_to_date(6, 2));
  EXPECT_FALSE(f.log.is_up_to_date(4, 2));
  // An earlier last term loses regardless of length.
  EXPECT_FALSE(f.log.is_up_to_date(9, 1));
  EXPECT_FALSE(f.log.is_up_to_date(0, 0));
  // An empty log is beaten by anything and ties with another empty log.
  MemoryStorage storage;
  RaftLog empty(&storage);
  ASSERT_TRUE(empty.init(0).ok());
  EXPECT_TRUE(empty.is_up_to_date(0, 0));
  EXPECT_TRUE(empty.is_up_to_date(1, 1));
}

TEST(RaftLogTest, MaybeCommitOnlyForTheGivenTerm) {
  Fixture f({1, 1, 2, 2, 3}, 1);
  EXPECT_FALSE(f.log.maybe_commit(4, 3));  // entry 4 is from term 2: not by counting in term 3
  EXPECT_EQ(f.log.committed(), 1u);
  EXPECT_TRUE(f.log.maybe_commit(4, 2));
  EXPECT_EQ(f.log.committed(), 4u);
  EXPECT_FALSE(f.log.maybe_commit(3, 2));  // not above the commit index
  EXPECT_FALSE(f.log.maybe_commit(4, 2));
  EXPECT_FALSE(f.log.maybe_commit(6, 3));  // beyond the log
  EXPECT_EQ(f.log.committed(), 4u);
  EXPECT_TRUE(f.log.maybe_commit(5, 3));
  EXPECT_EQ(f.log.committed(), 5u);
}

TEST(RaftLogTest, CommitAndApplyStayWithinTheirBounds) {
  Fixture f({1, 1, 1}, 0);
  f.log.commit_to(2);
  EXPECT_EQ(f.log.committed(), 2u);
  f.log.commit_to(1);  // never backwards
  EXPECT_EQ(f.log.committed(), 2u);
  f.log.commit_to(10);  // never past the log
  EXPECT_EQ(f.log.committed(), 3u);
  f.log.applied_to(2);
  EXPECT_EQ(f.log.applied(), 2u);
  f.log.applied_to(1);
  EXPECT_EQ(f.log.applied(), 2u);
  Fixture g({1, 1, 1}, 1);
  g.log.applied_to(3);  // never past the commit index
  EXPECT_EQ(g.log.applied(), 1u);
}

TEST(RaftLogTest, StableToIgnoresAReplacedEntry) {
  Fixture f({1, 1, 1}, 1);
  f.log.append(with_terms(4, {2, 2}));
  // The application took a Ready with entries 4..5 (term 2) ...
  std::vector<Entry> ready = f.log.unstable_entries();
  // ... and meanwhile a new leader replaced entry 5.
  auto replaced = f.log.maybe_append(4, 2, 0, with_terms(5, {3}));
  ASSERT_TRUE(replaced.ok());
  ASSERT_TRUE(replaced->has_value());
  ASSERT_TRUE(f.storage.save(nullptr, ready, nullptr).ok());
  f.log.stable_to(ready.back().index, ready.back().term);
  // Entry 5 of term 3 is not on disk: it must stay unstable.
  EXPECT_EQ(f.log.unstable_entries(), (std::vector<Entry>{entry(2, 4, "d4"), entry(3, 5, "d5")}));
  EXPECT_EQ(*f.log.term(5), 3u);
  EXPECT_EQ(f.log.stable_last_index(), 3u);
  // Entry 4 did not change, so it may become stable.
  f.log.stable_to(4, 2);
  EXPECT_EQ(f.log.unstable_entries(), with_terms(5, {3}));
  EXPECT_EQ(f.log.stable_last_index(), 4u);
  // Indices outside the unstable tail are ignored.
  f.log.stable_to(3, 1);
  f.log.stable_to(9, 3);
  EXPECT_EQ(f.log.unstable_entries(), with_terms(5, {3}));
  f.persist();
  EXPECT_TRUE(f.log.unstable_entries().empty());
  EXPECT_EQ(*f.storage.term(5), 3u);
}

TEST(RaftLogTest, RestoreMakesTheSnapshotTheCommittedLog) {
  Fixture f({1, 1, 2}, 2);
  f.log.append(with_terms(4, {2}));
  f.log.restore(one_voter_snapshot_at(10, 4));
  EXPECT_EQ(f.log.first_index(), 11u);
  EXPECT_EQ(f.log.last_index(), 10u);
  EXPECT_EQ(f.log.last_term(), 4u);
  EXPECT_EQ(f.log.committed(), 10u);
  EXPECT_TRUE(f.log.unstable_entries().empty());
  ASSERT_TRUE(f.log.unstable_snapshot().has_value());
  EXPECT_EQ(f.log.unstable_snapshot()->meta.index, 10u);
  EXPECT_EQ(*f.log.term(10), 4u);
  EXPECT_EQ(f.log.term(9).code(), ErrorCode::not_found);
  EXPECT_EQ(f.log.slice(10, 11, UINT64_MAX).code(), ErrorCode::not_found);
  EXPECT_EQ(f.log.stable_last_index(), 0u);  // nothing of the new log is on disk yet
  EXPECT_TRUE(f.log.is_up_to_date(10, 4));
  EXPECT_FALSE(f.log.is_up_to_date(20, 3));

  // New entries may follow the snapshot before it is saved.
  f.log.append(with_terms(11, {4}));
  EXPECT_EQ(f.log.last_index(), 11u);
  EXPECT_EQ(*f.log.term(11), 4u);

  // The application saves the snapshot (and the entry).
  Snapshot snap = *f.log.unstable_snapshot();
  ASSERT_TRUE(f.storage.save(nullptr, f.log.unstable_entries(), &snap).ok());
  f.log.stable_snapshot_to(9);  // not this snapshot: ignored
  EXPECT_TRUE(f.log.unstable_snapshot().has_value());
  f.log.stable_snapshot_to(10);
  EXPECT_FALSE(f.log.unstable_snapshot().has_value());
  f.log.stable_to(11, 4);
  EXPECT_EQ(f.log.first_index(), 11u);
  EXPECT_EQ(f.log.last_index(), 11u);
  EXPECT_EQ(f.log.stable_last_index(), 11u);
  EXPECT_EQ(*f.log.term(10), 4u);  // now answered by the storage's dummy entry
  f.log.applied_to(10);
  EXPECT_EQ(f.log.applied(), 10u);
}

TEST(RaftLogTest, StableLastIndexTracksWhatIsOnDisk) {
  Fixture f({1, 1}, 0);
  EXPECT_EQ(f.log.stable_last_index(), 2u);
  f.log.append(with_terms(3, {1, 1}));
  EXPECT_EQ(f.log.stable_last_index(), 2u);
  f.persist();
  EXPECT_EQ(f.log.stable_last_index(), 4u);
  // A replacement below the stored end: only what precedes it is still ours on disk.
  f.log.append(with_terms(2, {5}));
  EXPECT_EQ(f.log.stable_last_index(), 1u);
  f.persist();
  EXPECT_EQ(f.log.stable_last_index(), 2u);
  EXPECT_EQ(f.log.last_index(), 2u);
}

}  // namespace
}  // namespace nca::raft
